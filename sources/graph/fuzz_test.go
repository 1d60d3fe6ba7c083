package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/page"
)

// FuzzPollPage feeds arbitrary response bodies through what a poll does with a page: the
// streaming decoder, take (decode, dedup, normalize, dead letters) and the nextLink check.
// Nothing may panic, and every message is an envelope that marshals or a dead letter with its
// bytes and the reason.
func FuzzPollPage(f *testing.F) {
	files, _ := filepath.Glob("testdata/alerts/*.json")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(`{"@odata.context":"x","value":[` + string(b) + `],"@odata.nextLink":"https://graph.microsoft.com/v1.0/security/alerts_v2?$skiptoken=a"}`))
	}
	f.Add([]byte(`{"value":[{"id":"a","lastUpdateDateTime":"2025-01-01T00:00:00Z"},{"id":}]}`))
	f.Add([]byte(`{"value":[{"id":"z","lastUpdateDateTime":"1601-01-01T00:00:00Z"},{"id":"f","lastUpdateDateTime":"2099-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"value":[{"id":"a","lastUpdateDateTime":"2025-01-01T00:00:00Z","evidence":[{"@odata.type":"#microsoft.graph.security.processEvidence","processId":"12"}]}]}`))
	f.Add([]byte("{\"value\":[{\"id\":\"\xff\xfe\",\"lastUpdateDateTime\":\"2025-01-01T00:00:00Z\"}],\"@odata.nextLink\":7}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		s := &Source{id: normIdentity, opts: Options{BatchSize: 10}}
		s.base, _ = url.Parse("https://graph.microsoft.com/v1.0/security/alerts_v2")
		check := func(_ context.Context, b sources.Batch) error {
			for _, m := range b.Messages {
				if m.Alert == nil {
					if m.Err == nil || len(m.Raw) == 0 {
						t.Fatalf("a dead letter without its bytes or reason: %+v", m)
					}
					continue
				}
				out, err := envelope.Marshal(m.Alert)
				if err != nil || !json.Valid(out) {
					t.Fatalf("an envelope that does not marshal: %v %s", err, out)
				}
			}
			return nil
		}
		p := s.newPoll(sources.Checkpoint{}, check)
		rest, err := page.Decode(bytes.NewReader(body), "value", func(raw []byte, _ error) error { return p.take(context.Background(), raw) })
		if err == nil {
			if raw, ok := rest["@odata.nextLink"]; ok {
				_, _ = s.nextLink(raw)
			}
		}
		if err := p.Flush(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	})
}
