package page

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertexport/alertexport/sources/page/pagetest"
)

const gib = 1 << 30

// streamed is the most a test lets the decoder allocate while it streams gigabytes: a few
// items' worth, far below what went through.
const streamed = 64 << 20

type testAlert struct {
	ID             string    `json:"id"`
	LastUpdateTime time.Time `json:"lastUpdateTime"`
}

// TestOversizedItemIsDeadLetter: a 1 GiB alert in the middle of a page is passed over without
// being held: the alerts before and after it come through, and it is handed on with its size,
// its first bytes (from which its id and version are still read) and the hash of all its bytes.
func TestOversizedItemIsDeadLetter(t *testing.T) {
	head := `{"id":"big","lastUpdateTime":"2026-01-02T03:04:05Z","evidence":[{"entityType":"File","name":"`
	bigItem := []pagetest.Part{pagetest.Text(head), pagetest.Fill('x', gib), pagetest.Text(`"}]}`)}
	body := pagetest.New(slices.Concat(
		[]pagetest.Part{pagetest.Text(`{"@odata.context":"c","value":[{"id":"a"},`)},
		bigItem,
		[]pagetest.Part{pagetest.Text(`,{"id":"c"}],"@odata.nextLink":"n"}`)})...)
	var ids []string
	var big *TooLargeError
	var raw []byte
	var rest map[string]json.RawMessage
	alloc := pagetest.Allocated(func() {
		var err error
		rest, err = DecodeInto(body, "value", func(b []byte, v *testAlert, err error) error {
			if errors.As(err, &big) {
				raw = b
				ids = append(ids, "too large")
				return nil
			}
			ids = append(ids, v.ID)
			return err
		})
		if err != nil {
			t.Fatalf("the page failed: %v", err)
		}
	})
	if want := []string{"a", "too large", "c"}; !slices.Equal(ids, want) {
		t.Fatalf("items %q, want %q", ids, want)
	}
	if string(rest["@odata.nextLink"]) != `"n"` {
		t.Errorf("fields after the items: %q", rest)
	}
	if size := pagetest.Len(bigItem...); big.Size != size || big.Limit != MaxItem || big.Kept != TooLargePrefix || len(raw) != TooLargePrefix {
		t.Errorf("too large: size %d (want %d), cap %d, kept %d of %d", big.Size, size, big.Limit, big.Kept, len(raw))
	}
	if !strings.HasPrefix(string(raw), head) || !strings.HasPrefix(big.Error(), "too large") {
		t.Errorf("handed on %.100q…: %v", raw, big)
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, pagetest.New(bigItem...)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(big.Sum[:], sum.Sum(nil)) {
		t.Error("the hash is not of the item's bytes")
	}
	if id, at, ok := Version(raw, "lastUpdateTime"); !ok || id != "big" || !at.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("Version of its first bytes = %q, %v, %v", id, at, ok)
	}
	if alloc > streamed {
		t.Errorf("allocated %d MiB streaming a 1 GiB alert", alloc>>20)
	}
	t.Logf("allocated %.1f MiB streaming %d MiB", float64(alloc)/(1<<20), body.Served()>>20)
}

// TestOversizedODataContext: a 2 GiB @odata.context is passed over in bounded memory, with a
// warning that names it; the alerts and the fields that fit come through.
func TestOversizedODataContext(t *testing.T) {
	body := pagetest.New(pagetest.Text(`{"@odata.context":"`), pagetest.Fill('c', 2*gib),
		pagetest.Text(`","value":[{"id":"a"},{"id":"b"}],"@odata.nextLink":"n"}`))
	var log bytes.Buffer
	var ids []string
	var rest map[string]json.RawMessage
	alloc := pagetest.Allocated(func() {
		var err error
		rest, err = DecodeInto(body, "value", func(_ []byte, v *testAlert, err error) error {
			ids = append(ids, v.ID)
			return err
		}, Need("@odata.nextLink"), Log(slog.New(slog.NewTextHandler(&log, nil))))
		if err != nil {
			t.Fatalf("the page failed: %v", err)
		}
	})
	if !slices.Equal(ids, []string{"a", "b"}) {
		t.Errorf("items %q", ids)
	}
	if v, ok := rest["@odata.context"]; !ok || v != nil || string(rest["@odata.nextLink"]) != `"n"` {
		t.Errorf("fields %q: want @odata.context present and empty, the nextLink kept", rest)
	}
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "field=@odata.context bytes=2147483650") {
		t.Errorf("log: %s", log.String())
	}
	if alloc > streamed {
		t.Errorf("allocated %d MiB streaming a 2 GiB @odata.context", alloc>>20)
	}
	t.Logf("allocated %.1f MiB streaming %d MiB", float64(alloc)/(1<<20), body.Served()>>20)
}

// TestOversizedNeededField: a field the caller needs to read on (Graph's nextLink, Cloud Apps'
// hasNext) over the cap fails the page with a message that names it, as soon as its name is
// read: the gigabyte behind it is not read. The alerts before it were handed over.
func TestOversizedNeededField(t *testing.T) {
	tests := []struct {
		name, items, field string
	}{
		{"nextLink", "value", "@odata.nextLink"},
		{"hasNext", "data", "hasNext"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := pagetest.New(pagetest.Text(`{"`+tt.items+`":[{"id":"a"}],"`+tt.field+`":"`), pagetest.Fill('n', gib), pagetest.Text(`"}`))
			n := 0
			_, err := Decode(body, tt.items, func(_ []byte, err error) error {
				n++
				return err
			}, Need(tt.field))
			var fe *FieldTooLargeError
			if !errors.As(err, &fe) || fe.Field != tt.field || fe.Limit != MaxFields || !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want the field too large", err)
			}
			if !strings.Contains(err.Error(), tt.field) || !strings.Contains(err.Error(), "65536") {
				t.Errorf("the message names neither the field nor the cap: %v", err)
			}
			if n != 1 {
				t.Errorf("%d items handed over, want 1", n)
			}
			if body.Served() > 1<<20 {
				t.Errorf("read %d bytes before failing", body.Served())
			}
		})
	}
}

// TestCaps: what is over the caps, at the edges, under small caps: each item over its cap is
// handed on with its size, first bytes and hash, and the page goes on; fields over theirs are
// passed over, or fail the page when needed; the page's own structure does not hide behind
// whitespace.
func TestCaps(t *testing.T) {
	long := `{"id":"` + strings.Repeat("x", 40) + `"}`
	tests := []struct {
		name   string
		body   string
		fields int64    // the cap on the fields, if not 48
		items  []string // "!" + the item: handed on as too large
		rest   []string // fields kept; "-" + name: passed over
		err    string
	}{
		{name: "under the cap", body: `{"value":[{"id":"a"},{"id":"` + strings.Repeat("y", 20) + `"}]}`, items: []string{`{"id":"a"}`, `{"id":"` + strings.Repeat("y", 20) + `"}`}},
		{name: "first, middle, last", body: `{"value":[` + long + `,{"id":"a"},` + long + `,{"id":"b"},` + long + `]}`, items: []string{"!" + long, `{"id":"a"}`, "!" + long, `{"id":"b"}`, "!" + long}},
		{name: "only one", body: `{"value":[` + long + `]}`, items: []string{"!" + long}},
		{name: "escapes and brackets in strings", body: `{"value":[{"t":"a\"]}\\","u":["}",{"v":"\\\"{"}],"w":"` + strings.Repeat(`\\`, 20) + `"},{"id":"a"}]}`,
			items: []string{`!{"t":"a\"]}\\","u":["}",{"v":"\\\"{"}],"w":"` + strings.Repeat(`\\`, 20) + `"}`, `{"id":"a"}`}},
		{name: "a long string item", body: `{"value":["` + strings.Repeat("s", 50) + `",1]}`, items: []string{`!"` + strings.Repeat("s", 50) + `"`, `1`}},
		{name: "a long number item", body: `{"value":[` + strings.Repeat("7", 50) + ` , 2]}`, items: []string{"!" + strings.Repeat("7", 50), `2`}},
		{name: "nested arrays", body: `{"value":[[[[` + strings.Repeat(`[1],`, 10) + `[]]]],{"id":"a"}]}`, items: []string{`![[[` + strings.Repeat(`[1],`, 10) + `[]]]]`, `{"id":"a"}`}},
		{name: "whitespace before the end", body: `{"value":[{"id":"a"}` + strings.Repeat(" ", 100) + `]}`, items: []string{`{"id":"a"}`}},
		{name: "whitespace before an item", body: `{"value":[{"id":"a"},` + strings.Repeat("\n", 100) + `{"id":"b"}]}`, items: []string{`{"id":"a"}`, `!{"id":"b"}`}},
		{name: "a long item cut off", body: `{"value":[{"id":"a"},` + long[:35], items: []string{`{"id":"a"}`}, err: "unexpected EOF"},
		{name: "a long item that never closes", body: `{"value":[` + long + `,{"id":"` + strings.Repeat("z", 40) + `}]}`, items: []string{"!" + long}, err: "unexpected EOF"},
		{name: "fields kept", body: `{"a":"1","value":[],"b":2}`, rest: []string{"a", "b"}},
		{name: "a long field is passed over", body: `{"a":"` + strings.Repeat("c", 60) + `","value":[{"id":"a"}],"b":2}`, items: []string{`{"id":"a"}`}, rest: []string{"-a", "b"}},
		{name: "a long field after the items", body: `{"value":[{"id":"a"}],"a":[` + strings.Repeat(`"]",`, 20) + `1],"b":2}`, items: []string{`{"id":"a"}`}, rest: []string{"-a", "b"}},
		{name: "a long field name", body: `{"` + strings.Repeat("k", 2000) + `":1,"value":[],"b":2}`, fields: 400, rest: []string{"-" + strings.Repeat("k", maxKey) + "…", "b"}},
		{name: "fields over the cap together", body: `{"a":"` + strings.Repeat("c", 30) + `","b":"` + strings.Repeat("c", 30) + `","value":[],"d":1}`, rest: []string{"a", "-b", "d"}},
		{name: "a needed field", body: `{"value":[{"id":"a"}],"next":"` + strings.Repeat("n", 60) + `"}`, items: []string{`{"id":"a"}`}, err: `"next" is too large`},
		{name: "a needed field that does not fit what is left", body: `{"a":"` + strings.Repeat("c", 30) + `","next":"` + strings.Repeat("n", 20) + `","value":[]}`, err: `"next" is too large`},
		{name: "endless small fields", body: `{` + strings.Repeat(`"`+strings.Repeat("f", 20)+`":"`+strings.Repeat("v", 40)+`",`, 10) + `"value":[]}`, err: "over 48 bytes together"},
		{name: "whitespace before the page", body: strings.Repeat(" ", 2000) + `{"value":[]}`, err: "outside the alerts"},
		{name: "whitespace after the page", body: `{"value":[]}` + strings.Repeat(" ", 2000), err: "outside the alerts"},
		{name: "whitespace before the items", body: `{"value":` + strings.Repeat(" ", 2000) + `[]}`, err: "outside the alerts"},
		{name: "whitespace before the items field", body: `{"a":"` + strings.Repeat("c", 40) + `",` + strings.Repeat(" ", 2000) + `"value":[]}`, rest: []string{"a"}, err: `before "value"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caps := WithCaps(Caps{Item: 32, Fields: cmp.Or(tt.fields, 48), Prefix: 8})
			for _, into := range []bool{false, true} {
				var got []string
				item := func(raw []byte, err error) error {
					var big *TooLargeError
					switch {
					case len(got) >= len(tt.items):
						t.Fatalf("into %v: more items than %d: %q, %v", into, len(tt.items), raw, err)
					case errors.As(err, &big):
						if int(big.Size) != len(tt.items[len(got)])-1 || big.Sum != sha256.Sum256([]byte(tt.items[len(got)][1:])) || string(raw) != tt.items[len(got)][1:][:min(8, big.Size)] {
							t.Errorf("item %d: size %d, kept %q", len(got), big.Size, raw)
						}
						got = append(got, "!"+tt.items[len(got)][1:])
					case err != nil:
						return err
					default:
						got = append(got, string(raw))
					}
					return nil
				}
				var rest map[string]json.RawMessage
				var err error
				if into {
					rest, err = DecodeInto(strings.NewReader(tt.body), "value", func(raw []byte, _ *struct{}, err error) error {
						if errors.Is(err, ErrTooLarge) {
							return item(raw, err)
						}
						return item(raw, nil)
					}, caps, Need("next"))
				} else {
					rest, err = Decode(strings.NewReader(tt.body), "value", item, caps, Need("next"))
				}
				if !slices.Equal(got, tt.items) {
					t.Errorf("into %v: items %q\nwant %q", into, got, tt.items)
				}
				if tt.err != "" {
					if err == nil || !strings.Contains(err.Error(), tt.err) {
						t.Errorf("into %v: err = %v, want %q", into, err, tt.err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("into %v: %v", into, err)
				}
				var fields []string
				for k, v := range rest {
					if v == nil {
						k = "-" + k
					}
					fields = append(fields, k)
				}
				slices.Sort(fields)
				if want := slices.Sorted(slices.Values(tt.rest)); !slices.Equal(fields, want) {
					t.Errorf("into %v: fields %q, want %q", into, fields, want)
				}
			}
		})
	}
}

// FuzzDecodeIntoCaps: under any cap on one item, a page that decodes whole decodes the same:
// every item comes through byte for byte, or, over the cap, with its exact size, its first
// bytes and its hash; nothing handed over is larger than the cap; and it never panics or loops.
func FuzzDecodeIntoCaps(f *testing.F) {
	for _, s := range []string{
		`{"value":[{"id":"a","t":"2025-01-01T00:00:00Z"}, {"id":"b"}],"x":1}`,
		`{"value":[{"id":7},{"id":"b","t":"yesterday"},"s",{"id":"c"},[1,{"id":2}],null]}`,
		`{"@odata.context":"c","value":[ {"id":"a","n":{"m":[1,2,{"id":3}]}} ,{"id":"\u00e9\ud83d\ude00"}]}`,
		`{"value":[{"t":"a\"]}\\","u":["}",{"v":"\\\"{"}]},  123456789 , "x\\\"y" ,{}]}`,
	} {
		f.Add([]byte(s), uint8(10))
	}
	f.Fuzz(func(t *testing.T, body []byte, c uint8) {
		var want [][]byte
		if _, err := Decode(bytes.NewReader(body), "value", func(raw []byte, err error) error {
			want = append(want, raw)
			return err
		}); err != nil {
			return
		}
		limit := int64(c%64) + 1
		n := 0
		_, err := DecodeInto(bytes.NewReader(body), "value", func(raw []byte, _ *testAlert, err error) error {
			if n >= len(want) {
				t.Fatalf("more items than the page holds")
			}
			w := want[n]
			n++
			var big *TooLargeError
			if !errors.As(err, &big) {
				if !bytes.Equal(raw, w) || int64(len(raw)) > limit+1 {
					t.Fatalf("item %q, want %q under a %d-byte cap", raw, w, limit)
				}
				return nil
			}
			if big.Size != int64(len(w)) || big.Sum != sha256.Sum256(w) || !bytes.Equal(raw, w[:min(len(w), 4)]) {
				t.Fatalf("too large: size %d, first bytes %q; want %q", big.Size, raw, w)
			}
			return nil
		}, WithCaps(Caps{Item: limit, Prefix: 4}))
		if err != nil || n != len(want) {
			t.Fatalf("%d of %d items, then %v", n, len(want), err)
		}
	})
}
