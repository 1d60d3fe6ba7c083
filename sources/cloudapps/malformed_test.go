package cloudapps

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/apis"
	"github.com/alertexport/alertexport/sources/httpclient"
	"github.com/alertexport/alertexport/sources/page"
	"github.com/alertexport/alertexport/sources/sourcetest"
)

// TestMalformedBodies: a corpus of broken answers. An alert that cannot be used becomes a dead
// letter and the others go on; a body that cannot be read as a page is an error. No panic.
func TestMalformedBodies(t *testing.T) {
	t.Parallel()
	good := `{"_id":"65a1b2c3d4e5f60718293a4b","timestamp":1732350000123,"resolutionStatusValue":0,"title":"fine"}`
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	for _, c := range []struct {
		name         string
		body         string
		alerts, dead int
		pageErr      bool
	}{
		{name: "wrong types", body: `{"data":[{"_id":"65a1b2c3d4e5f60718293a4c","timestamp":1732350000123,"severityValue":"high","entities":{}},` + good + `]}`, alerts: 1, dead: 1},
		{name: "timestamp in a string", body: `{"data":[{"_id":"65a1b2c3d4e5f60718293a4d","timestamp":"yesterday"}]}`, dead: 1},
		{name: "missing _id", body: `{"data":[{"timestamp":1732350000123},` + good + `]}`, alerts: 1, dead: 1},
		{name: "closed without resolveTime", body: `{"data":[{"_id":"65a1b2c3d4e5f60718293a4e","timestamp":1732350000123,"resolutionStatusValue":2}]}`, dead: 1},
		{name: "not an object", body: `{"data":[7,"x",` + good + `]}`, alerts: 1, dead: 2},
		{name: "huge strings", body: `{"data":[{"_id":"65a1b2c3d4e5f60718293a4f","timestamp":1732350000123,"description":"` + strings.Repeat("ß", 1<<20) + `"}]}`, alerts: 1},
		{name: "over the cap on one alert", body: `{"data":[{"_id":"65a1b2c3d4e5f60718293a52","timestamp":1732350000123,"description":"` + strings.Repeat("x", page.MaxItem) + `"},` + good + `]}`, alerts: 1, dead: 1},
		{name: "deep nesting", body: `{"data":[{"_id":"65a1b2c3d4e5f60718293a50","timestamp":1,"x":` + deep + `}]}`, pageErr: true},
		{name: "invalid UTF-8", body: "{\"data\":[{\"_id\":\"65a1b2c3d4e5f60718293a51\",\"timestamp\":1732350000123,\"title\":\"\xff\"}]}", dead: 1},
		{name: "data is an object", body: `{"data":{}}`, pageErr: true},
		{name: "a throttling page", body: `{"detail":"Request was throttled."}`, pageErr: true},
		{name: "truncated", body: `{"data":[` + good + `,{"_id":"65a1`, alerts: 1, pageErr: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			src := New(apis.Settings{Tenant: "contoso", APIURL: "https://unused", Lookback: 10 * time.Minute}, &httpclient.API{}, Options{})
			var got []sources.Message
			p := src.newPoll(sources.Checkpoint{}, func(_ context.Context, b sources.Batch) error {
				got = append(got, b.Messages...)
				return nil
			})
			var st stats
			_, err := page.Decode(bytes.NewReader([]byte(c.body)), "data", func(raw []byte, big error) error {
				if big != nil { // as fetch does
					return p.dead(raw, "", time.Time{}, false, big, false, time.Time{})
				}
				return p.take(raw, question{}, &st)
			})
			if ferr := p.Flush(context.Background(), nil); ferr != nil {
				t.Fatal(ferr)
			}
			if (err != nil) != c.pageErr {
				t.Errorf("page error = %v, want an error: %v", err, c.pageErr)
			}
			alerts, dead := sourcetest.Count(t, got)
			if alerts != c.alerts || dead != c.dead {
				t.Errorf("%d alerts and %d dead letters, want %d and %d", alerts, dead, c.alerts, c.dead)
			}
		})
	}
}
