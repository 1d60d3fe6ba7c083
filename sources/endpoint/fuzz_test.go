package endpoint

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/page"
)

// FuzzDecodePage feeds arbitrary response bodies through what a poll does with a page: the
// streaming decoder, the alert decoder and normalization. Nothing may panic, and every alert
// that decodes either normalizes to an envelope that marshals, or is refused with an error.
func FuzzDecodePage(f *testing.F) {
	files, _ := filepath.Glob("testdata/alerts/*.json")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(`{"@odata.context":"x","value":[` + string(b) + `]}`))
	}
	f.Add([]byte(`{"value":[{"id":"a","lastUpdateTime":"2025-01-01T00:00:00Z"},{"id":}]}`))
	f.Add([]byte(`{"value":[{"id":"a","lastUpdateTime":"2025-01-01T00:00:00Z","evidence":[{"entityType":"Process","processId":"12"}]}]`))
	f.Add([]byte("{\"value\":[{\"id\":\"\xff\xfe\",\"lastUpdateTime\":\"2025-01-01T00:00:00Z\"}]}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = page.Decode(bytes.NewReader(body), "value", func(raw []byte, _ error) error {
			var a alert
			if page.Unmarshal(raw, &a) != nil {
				return nil // a dead letter
			}
			env, err := normalize(&a, raw, testIdentity, envelope.Created)
			if err != nil {
				return nil
			}
			out, err := envelope.Marshal(env)
			if err != nil {
				t.Fatalf("an envelope that does not marshal: %v", err)
			}
			if !json.Valid(out) || (utf8.Valid(raw) && !utf8.Valid(out)) {
				t.Fatalf("invalid envelope JSON: %s", out)
			}
			return nil
		})
	})
}
