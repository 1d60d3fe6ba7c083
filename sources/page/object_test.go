package page

import (
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// handDecoded is what the hand decoder of TestNames reads: the members it names, by Object and Cells.
type handDecoded struct {
	ID, Title *string
	T         *time.Time
	Tags      []string
}

var testNames = NewNames("id", "title", "t", "tags")

func (d *handDecoded) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	var c Cells
	defer c.Done()
	return testNames.Object(dec, func(i int) error {
		switch i {
		case 0:
			return c.String(dec, &d.ID)
		case 1:
			return c.String(dec, &d.Title)
		case 2:
			return c.Time(dec, &d.T)
		}
		return Array(dec, func() error {
			s, err := String(dec)
			if s != nil {
				d.Tags = append(d.Tags, *s)
			}
			return err
		})
	})
}

// TestNames: an object handDecoded by hand (Names, Cells) reads as reflection with Options reads it:
// names in any case but with their _ and -, in any order, the last of a repeated name, escapes,
// null, and an error for a value of the wrong kind.
func TestNames(t *testing.T) {
	type want struct {
		id, title string // "-": nil
		t         string // "-": nil
		tags      string
	}
	tests := []struct {
		name, body string
		want       want
		err        string
	}{
		{"in order", `{"id":"a","title":"x","t":"2024-01-02T03:04:05Z","tags":["p","q"]}`, want{"a", "x", "2024-01-02T03:04:05Z", "p,q"}, ""},
		{"any order, other names skipped", `{"n":{"id":"z"},"tags":null,"title":"x","id":"a","u":[1]}`, want{"a", "x", "-", ""}, ""},
		{"names in another case", `{"ID":"a","TiTlE":"x","T":"2024-01-02T03:04:05Z"}`, want{"a", "x", "2024-01-02T03:04:05Z", ""}, ""},
		{"non-ASCII folding", `{"tıtle":"no","ſ":1,"\u0074itle":"x"}`, want{"-", "x", "-", ""}, ""},
		{"_ and - count", `{"_id":"a","ti-tle":"x"}`, want{"-", "-", "-", ""}, ""},
		{"escapes", `{"id":"a\"b\u00e9","title":"line\nnext"}`, want{"a\"bé", "line\nnext", "-", ""}, ""},
		{"the last of a repeated name", `{"id":"a","ID":"b","title":"x","title":null,"t":null,"t":"2024-01-02T03:04:05Z"}`, want{"b", "-", "2024-01-02T03:04:05Z", ""}, ""},
		{"null object", `null`, want{"-", "-", "-", ""}, ""},
		{"invalid UTF-8 is replaced", "{\"id\":\"a\xffb\"}", want{"a\ufffdb", "-", "-", ""}, ""},
		{"a number for a string", `{"id":7}`, want{}, "id: want a string, got a number"},
		{"not a time", `{"t":"soon"}`, want{}, "t: "},
		{"an object for an array", `{"tags":{}}`, want{}, "tags: want an array, got an object"},
		{"an array for the object", `[1]`, want{}, "want an object, got an array"},
	}
	show := func(p *string) string {
		if p == nil {
			return "-"
		}
		return *p
	}
	// A null after many values of the same field still wins.
	many := `{"id":"a"` + strings.Repeat(`,"title":"x"`, 200) + `,"title":null` + strings.Repeat(`,"t":"2024-01-02T03:04:05Z"`, 200) + `,"t":null}`
	tests = append(tests, struct {
		name, body string
		want       want
		err        string
	}{"a null after many values", many, want{"a", "-", "-", ""}, ""})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d handDecoded
			err := Unmarshal([]byte(tt.body), &d)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("err = %v, want it to say %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ts := "-"
			if d.T != nil {
				ts = d.T.UTC().Format(time.RFC3339)
			}
			got := want{show(d.ID), show(d.Title), ts, strings.Join(d.Tags, ",")}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
