package cloudapps

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/apis"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/httpclient"
	"github.com/alertexport/alertexport/sources/page"
)

// FuzzPollPage feeds arbitrary answers through what a poll does with a page: the streaming
// decoder and take (dates, dedup, normalization, dead letters). Nothing may panic, and every
// message handed over must be publishable.
func FuzzPollPage(f *testing.F) {
	files, _ := filepath.Glob("testdata/alerts/*.json")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(`{"data":[` + string(b) + `],"hasNext":false,"max":1,"total":1}`))
	}
	f.Add([]byte(`{"data":[{"_id":"a","timestamp":1},{"_id":}],"hasNext":true}`))
	f.Add([]byte(`{"data":[{"_id":"z","timestamp":-11644473600000,"resolutionStatusValue":0},{"_id":"f","timestamp":1,"resolutionStatusValue":2,"resolveTime":"2099-01-01T00:00:00Z"}],"hasNext":false}`))
	src := New(apis.Settings{Tenant: "contoso", APIURL: "https://unused", Lookback: 10 * time.Minute}, &httpclient.API{}, Options{})
	f.Fuzz(func(t *testing.T, body []byte) {
		p := src.newPoll(sources.Checkpoint{}, func(_ context.Context, b sources.Batch) error {
			for _, m := range b.Messages {
				if m.MsgID == "" || (m.Alert == nil && m.Err == nil) {
					t.Fatalf("a message without an ID or a reason: %+v", m)
				}
				if m.Alert != nil {
					if _, err := envelope.Marshal(m.Alert); err != nil {
						t.Fatalf("an envelope that does not marshal: %v", err)
					}
				}
			}
			return nil
		})
		var st stats
		_, _ = page.Decode(bytes.NewReader(body), "data", func(raw []byte, _ error) error { return p.take(raw, question{}, &st) })
		_ = p.Flush(context.Background(), nil)
	})
}
