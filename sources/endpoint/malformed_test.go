package endpoint

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

// TestMalformedBodies: a corpus of broken API answers. Each alert that cannot be used becomes a
// dead letter and the alerts around it go on; a body that cannot be read as a page is an error
// (the poll retries, then fails with its checkpoint unchanged). Nothing panics.
func TestMalformedBodies(t *testing.T) {
	t.Parallel()
	good := `{"id":"da1_1","lastUpdateTime":"2025-01-01T00:00:00Z","title":"fine"}`
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	for _, c := range []struct {
		name         string
		body         string
		alerts, dead int
		pageErr      bool
	}{
		{name: "wrong types", body: `{"value":[{"id":"da1_2","lastUpdateTime":"2025-01-01T00:00:00Z","severity":7,"evidence":"none"},` + good + `]}`, alerts: 1, dead: 1},
		{name: "missing id", body: `{"value":[{"lastUpdateTime":"2025-01-01T00:00:00Z"},` + good + `]}`, alerts: 1, dead: 1},
		{name: "missing lastUpdateTime", body: `{"value":[{"id":"da1_3"}]}`, dead: 1},
		{name: "not an object", body: `{"value":[42,"x",null,` + good + `]}`, alerts: 1, dead: 3},
		{name: "huge strings", body: `{"value":[{"id":"da1_4","lastUpdateTime":"2025-01-01T00:00:00Z","title":"` + strings.Repeat("x", 2<<20) + `","description":"` + strings.Repeat("é", 512<<10) + `"}]}`, alerts: 1},
		{name: "over the cap on one alert", body: `{"value":[{"id":"da1_10","lastUpdateTime":"2025-01-01T00:00:00Z","title":"` + strings.Repeat("x", page.MaxItem) + `"},` + good + `]}`, alerts: 1, dead: 1},
		{name: "deep nesting inside an alert", body: `{"value":[{"id":"da1_5","lastUpdateTime":"2025-01-01T00:00:00Z","x":` + deep + `}]}`, pageErr: true},
		{name: "invalid UTF-8", body: "{\"value\":[{\"id\":\"da1_6\",\"lastUpdateTime\":\"2025-01-01T00:00:00Z\",\"title\":\"\xff\xfe\"}]}", dead: 1},
		{name: "timestamps without a zone", body: `{"value":[{"id":"da1_7","lastUpdateTime":"2025-01-01T00:00:00"}]}`, dead: 1},
		{name: "value is an object", body: `{"value":{"id":"da1_8"}}`, pageErr: true},
		{name: "HTML instead of JSON", body: `<html><body>Service Unavailable</body></html>`, pageErr: true},
		{name: "truncated", body: `{"value":[` + good + `,{"id":"da1_9","lastUpd`, alerts: 1, pageErr: true},
		{name: "empty", body: ``, pageErr: true},
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
			_, err := page.Decode(bytes.NewReader([]byte(c.body)), "value", func(raw []byte, big error) error {
				if big != nil { // as DecodeInto hands it to fetch
					return p.takeDecoded(context.Background(), raw, new(alert), big, &st)
				}
				return p.take(context.Background(), raw, &st)
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
