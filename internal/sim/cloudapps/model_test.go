package cloudapps

import "testing"

// TestTimeText: times are read in any RFC 3339 form and written in UTC with milliseconds.
func TestTimeText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"2021-05-13T14:02:34.904Z", "2021-05-13T14:02:34.904Z"},
		{"2021-05-13T14:02:34Z", "2021-05-13T14:02:34.000Z"},
		{"2021-05-13T16:02:34.9Z", "2021-05-13T16:02:34.900Z"},
		{"2021-05-13T16:02:34.9049+02:00", "2021-05-13T14:02:34.904Z"},
	}
	for _, tt := range tests {
		var ct cloudAppsTime
		if err := ct.UnmarshalText([]byte(tt.in)); err != nil {
			t.Fatal(err)
		}
		if b, _ := ct.MarshalText(); string(b) != tt.want {
			t.Errorf("%s: %s, want %s", tt.in, b, tt.want)
		}
	}
}
