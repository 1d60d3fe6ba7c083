package page

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDecode(t *testing.T) {
	for _, c := range []struct {
		name, body string
		items      []string
		rest       []string
		err        string
	}{
		{name: "odata page", body: `{"@odata.context":"x","value":[{"id":"a"},{"id":"b"}]}`, items: []string{`{"id":"a"}`, `{"id":"b"}`}, rest: []string{"@odata.context"}},
		{name: "fields after the items", body: `{"value":[{"id":"a"}],"@odata.nextLink":"n"}`, items: []string{`{"id":"a"}`}, rest: []string{"@odata.nextLink"}},
		{name: "empty", body: ` {"value":[]} `},
		{name: "null items", body: `{"value":null}`},
		{name: "scalars are handed over", body: `{"value":[1,"x",null]}`, items: []string{`1`, `"x"`, `null`}},
		{name: "no items field", body: `{"data":[]}`, err: `no "value" field`},
		{name: "items not an array", body: `{"value":{}}`, err: "want an array"},
		{name: "not an object", body: `[{"id":"a"}]`, err: `want "{"`},
		{name: "truncated in an item", body: `{"value":[{"id":"a"},{"id":"b`, items: []string{`{"id":"a"}`}, err: "unexpected EOF"},
		{name: "truncated after the items", body: `{"value":[{"id":"a"}]`, items: []string{`{"id":"a"}`}, err: "EOF"},
		{name: "broken JSON", body: `{"value":[{"id":"a"},{"id":}]}`, items: []string{`{"id":"a"}`}, err: "invalid character"},
		{name: "trailing garbage", body: `{"value":[]} {"value":[]}`, err: "after the response object"},
		{name: "empty body", body: ``, err: "EOF"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			rest, err := Decode(strings.NewReader(c.body), "value", func(raw []byte, err error) error {
				got = append(got, string(raw))
				return err
			})
			if strings.Join(got, "|") != strings.Join(c.items, "|") {
				t.Errorf("items = %q, want %q", got, c.items)
			}
			if c.err == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				for _, k := range c.rest {
					if _, ok := rest[k]; !ok {
						t.Errorf("rest lacks %q: %v", k, rest)
					}
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("err = %v, want it to contain %q", err, c.err)
			}
		})
	}
}

// TestDecodeStopsOnItemError: the caller's error comes back unchanged and nothing more is read.
func TestDecodeStopsOnItemError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	_, err := Decode(strings.NewReader(`{"value":[1,2,3]}`), "value", func([]byte, error) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("err = %v after %d items, want stop after 1", err, n)
	}
}

// TestDecodeStreams: items are handed over as they arrive, before the body ends.
func TestDecodeStreams(t *testing.T) {
	pr, pw := io.Pipe()
	got := make(chan string)
	done := make(chan error)
	go func() {
		_, err := Decode(pr, "value", func(raw []byte, _ error) error {
			got <- string(raw)
			return nil
		})
		done <- err
	}()
	go func() {
		_, _ = io.WriteString(pw, `{"value":[{"id":"first"},`)
	}()
	if s := <-got; s != `{"id":"first"}` {
		t.Fatalf("first item = %s", s)
	}
	go func() {
		_, _ = io.WriteString(pw, `{"id":"second"}]}`)
		pw.Close()
	}()
	if s := <-got; s != `{"id":"second"}` {
		t.Fatalf("second item = %s", s)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// brokenReader ends with a network error instead of EOF: a body cut off mid-page.
type brokenReader struct{ r io.Reader }

func (b brokenReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		return n, errors.New("stream error: stream ID 3; INTERNAL_ERROR")
	}
	return n, err
}

// TestDecodeInto: items are decoded into T as they come, each with its own bytes; an item of
// the wrong shape is handed over with its error and the page goes on; a body that breaks off or
// is not JSON ends the page with an error (never an endless loop).
func TestDecodeInto(t *testing.T) {
	type item struct {
		ID string    `json:"id"`
		T  time.Time `json:"t"`
	}
	type got struct {
		raw, id string
		err     bool
	}
	tests := []struct {
		name    string
		body    string
		broken  bool
		want    []got
		wantErr bool
	}{
		{name: "two items", body: `{"value":[{"id":"a","t":"2025-01-01T00:00:00Z"}, {"id":"b"}],"x":1}`,
			want: []got{{raw: `{"id":"a","t":"2025-01-01T00:00:00Z"}`, id: "a"}, {raw: `{"id":"b"}`, id: "b"}}},
		{name: "wrong types go on", body: `{"value":[{"id":7},{"id":"b","t":"yesterday"},"s",{"id":"c"}]}`,
			want: []got{{raw: `{"id":7}`, err: true}, {raw: `{"id":"b","t":"yesterday"}`, id: "b", err: true}, {raw: `"s"`, err: true}, {raw: `{"id":"c"}`, id: "c"}}},
		{name: "cut off", body: `{"value":[{"id":"a"},{"id":"b","t":"2025-`, broken: true,
			want: []got{{raw: `{"id":"a"}`, id: "a"}}, wantErr: true},
		{name: "truncated", body: `{"value":[{"id":"a"},{"id":"b"`,
			want: []got{{raw: `{"id":"a"}`, id: "a"}}, wantErr: true},
		{name: "not JSON", body: `{"value":[{"id":"a"},<html>`,
			want: []got{{raw: `{"id":"a"}`, id: "a"}}, wantErr: true},
	}
	for _, tt := range tests {
		for name, opts := range map[string][]Option{"copied": nil, "borrowed": {Borrow()}, "ahead": {Ahead()}} {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				var r io.Reader = strings.NewReader(tt.body)
				if tt.broken {
					r = brokenReader{r}
				}
				var out []got
				_, err := DecodeInto(r, "value", func(raw []byte, v *item, err error) error {
					out = append(out, got{raw: string(raw), id: v.ID, err: err != nil})
					if len(out) > 10 {
						t.Fatal("items keep coming: the decoder loops")
					}
					return nil
				}, opts...)
				if (err != nil) != tt.wantErr {
					t.Errorf("err = %v, want error %v", err, tt.wantErr)
				}
				if !slices.Equal(out, tt.want) {
					t.Errorf("items %+v\nwant  %+v", out, tt.want)
				}
			})
		}
	}
}

// TestEncodingJSONRules: the decoder keeps the leniencies of encoding/json, which the sources
// were written against, so moving to the faster decoder changed no alert's fate.
func TestEncodingJSONRules(t *testing.T) {
	type item struct {
		ID    string     `json:"id"`
		Title string     `json:"title"`
		T     *time.Time `json:"t"`
	}
	tests := []struct {
		name, body string
		want       item
		wantErr    bool
	}{
		{name: "names match whatever their case", body: `{"ID":"a","Title":"t"}`, want: item{ID: "a", Title: "t"}},
		{name: "but _ and - count", body: `{"_id":"a","id":"b","ti-tle":"x"}`, want: item{ID: "b"}},
		{name: "a repeated name keeps the last value", body: `{"id":"a","id":"b"}`, want: item{ID: "b"}},
		{name: "unknown fields are ignored", body: `{"id":"a","investigationId":7}`, want: item{ID: "a"}},
		{name: "invalid UTF-8 reaches the item, not the page", body: "{\"id\":\"a\",\"title\":\"\xff\"}", want: item{ID: "a", Title: "\ufffd"}},
		{name: "null leaves a field empty", body: `{"id":"a","title":null}`, want: item{ID: "a"}},
		{name: "a number for a string is the item's error", body: `{"id":1}`, wantErr: true},
		{name: "times as leniently as encoding/json", body: `{"id":"a","t":"2024-01-02T3:04:05Z"}`, want: item{ID: "a", T: ptr(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got item
			var itemErr error
			_, err := DecodeInto(strings.NewReader(`{"value":[`+tt.body+`]}`), "value", func(_ []byte, v *item, err error) error {
				got, itemErr = *v, err
				return nil
			})
			if err != nil {
				t.Fatalf("the page failed: %v", err)
			}
			if (itemErr != nil) != tt.wantErr {
				t.Errorf("item error = %v, want error %v", itemErr, tt.wantErr)
			}
			if !tt.wantErr && (got.ID != tt.want.ID || got.Title != tt.want.Title || (got.T == nil) != (tt.want.T == nil) || got.T != nil && !got.T.Equal(*tt.want.T)) {
				t.Errorf("item = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// FuzzDecodeInto: whatever the body, DecodeInto (which decodes straight off the stream and cuts
// each item's bytes from it) hands over exactly the items Decode finds, byte for byte, and fails
// exactly when Decode does; it never panics or loops.
func FuzzDecodeInto(f *testing.F) {
	for _, s := range []string{
		`{"value":[{"id":"a","t":"2025-01-01T00:00:00Z"}, {"id":"b"}],"x":1}`,
		`{"value":[{"id":7},{"id":"b","t":"yesterday"},"s",{"id":"c"},[1,{"id":2}],null]}`,
		`{"@odata.context":"c","value":[ {"id":"a","n":{"m":[1,2,{"id":3}]}} ,{"id":"\u00e9\ud83d\ude00"}]}`,
		`{"value":[{"id":"a"},{"id":"b"`, `{"value":null}`, `{"value":[]} x`, "{\"value\":[{\"id\":\"\xff\"}]}",
	} {
		f.Add([]byte(s))
	}
	type item struct {
		ID string    `json:"id"`
		T  time.Time `json:"t"`
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var want []string
		_, werr := Decode(bytes.NewReader(body), "value", func(raw []byte, err error) error {
			want = append(want, string(raw))
			return err
		})
		var got []string
		_, gerr := DecodeInto(bytes.NewReader(body), "value", func(raw []byte, _ *item, _ error) error {
			got = append(got, string(raw))
			if len(got) > len(body) {
				t.Fatal("more items than bytes: the decoder loops")
			}
			return nil
		})
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("Decode err = %v, DecodeInto err = %v", werr, gerr)
		}
		if werr == nil && !slices.Equal(got, want) {
			t.Fatalf("DecodeInto items %q\nDecode items     %q", got, want)
		}
		var ahead []string
		_, aerr := DecodeInto(bytes.NewReader(body), "value", func(raw []byte, _ *item, _ error) error {
			ahead = append(ahead, string(raw))
			return nil
		}, Ahead())
		if (aerr == nil) != (gerr == nil) || !slices.Equal(ahead, got) {
			t.Fatalf("with Ahead: items %q, err %v\nwithout:    items %q, err %v", ahead, aerr, got, gerr)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// TestVersion: the id and version time of an item that does not decode whole are still read
// (whatever the names' case), so its dead letter has that version's message ID.
func TestVersion(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 1234500, time.UTC)
	tests := []struct {
		name, raw string
		ok        bool
	}{
		{"broken elsewhere", `{"id":"da1","lastUpdateTime":"2026-01-02T03:04:05.0012345Z","severity":7}`, true},
		{"names in another case", `{"ID":"da1","LastUpdateTime":"2026-01-02T03:04:05.0012345Z"}`, true},
		{"no id", `{"lastUpdateTime":"2026-01-02T03:04:05.0012345Z"}`, false},
		{"time null", `{"id":"da1","lastUpdateTime":null}`, false},
		{"time not a time", `{"id":"da1","lastUpdateTime":"soon"}`, false},
		{"not an object", `[1,2]`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, got, ok := Version([]byte(tt.raw), "lastUpdateTime")
			if ok != tt.ok || ok && (id != "da1" || !got.Equal(at)) {
				t.Errorf("Version = %q, %v, %v; want ok %v", id, got, ok, tt.ok)
			}
		})
	}
	if err := ItemErr([]byte("{\"id\":\"\xff\"}"), nil); err == nil {
		t.Error("ItemErr let invalid UTF-8 through")
	}
}
