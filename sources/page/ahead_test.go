package page

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// countingReader counts the bytes read of it, and fails the test when a read is made after
// closed: the decoder must be done with the body when DecodeInto returns.
type countingReader struct {
	t      *testing.T
	r      io.Reader
	read   atomic.Int64
	closed atomic.Bool
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.closed.Load() {
		c.t.Error("the body was read after DecodeInto returned")
	}
	n, err := c.r.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// manyItems is a page of n small items.
func manyItems(n int) string {
	var b strings.Builder
	b.WriteString(`{"value":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"a%d"}`, i)
	}
	b.WriteString(`],"@odata.nextLink":"n"}`)
	return b.String()
}

// TestAhead: decoding ahead hands over the same items in the same order as decoding in turn,
// across many batches, and the fields beside them.
func TestAhead(t *testing.T) {
	type item struct {
		ID string `json:"id"`
	}
	body := manyItems(10*aheadBatch + 3)
	collect := func(opts ...Option) ([]string, string) {
		var ids []string
		rest, err := DecodeInto(strings.NewReader(body), "value", func(raw []byte, v *item, err error) error {
			if err != nil || !strings.Contains(string(raw), `"`+v.ID+`"`) {
				t.Fatalf("item %s: %v", raw, err)
			}
			ids = append(ids, v.ID)
			return nil
		}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return ids, string(rest["@odata.nextLink"])
	}
	want, wantLink := collect()
	got, link := collect(Ahead())
	if strings.Join(got, ",") != strings.Join(want, ",") || link != wantLink {
		t.Errorf("ahead: %d items, link %s; in turn: %d items, link %s", len(got), link, len(want), wantLink)
	}
}

// TestAheadStopsOnItemError: the caller's error comes back unchanged, no item after it is handed
// over, and the decoder has stopped reading when DecodeInto returns (the caller closes the body
// then).
func TestAheadStopsOnItemError(t *testing.T) {
	type item struct {
		ID string `json:"id"`
	}
	for _, at := range []int{1, aheadBatch, aheadBatch + 1, 3 * aheadBatch} {
		t.Run(fmt.Sprint(at), func(t *testing.T) {
			stop := errors.New("stop")
			page := manyItems(1000 * aheadBatch)
			body := &countingReader{t: t, r: strings.NewReader(page)}
			n := 0
			_, err := DecodeInto(body, "value", func([]byte, *item, error) error {
				if n++; n == at {
					return stop
				}
				return nil
			}, Ahead())
			body.closed.Store(true)
			if !errors.Is(err, stop) || n != at {
				t.Errorf("err = %v after %d items, want stop after %d", err, n, at)
			}
			if read := body.read.Load(); read > int64(len(page)/4) {
				t.Errorf("%d of the body's %d bytes read: the decoder went on after the caller stopped", read, len(page))
			}
		})
	}
}

// TestAheadPanicInItem: a panic in item (which the poll's recover turns into its error) still
// stops the decoder before DecodeInto unwinds, so that nothing reads the body the caller then
// closes.
func TestAheadPanicInItem(t *testing.T) {
	type item struct {
		ID string `json:"id"`
	}
	page := manyItems(1000 * aheadBatch)
	body := &countingReader{t: t, r: strings.NewReader(page)}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not come through")
			}
		}()
		_, _ = DecodeInto(body, "value", func([]byte, *item, error) error { panic("boom") }, Ahead())
	}()
	body.closed.Store(true)
	if read := body.read.Load(); read > int64(len(page)/4) {
		t.Errorf("%d of the body's %d bytes read: the decoder went on after the panic", read, len(page))
	}
}

// panicky panics while it is decoded.
type panicky struct{}

func (*panicky) UnmarshalJSONFrom(*jsontext.Decoder) error { panic("boom in decoding") }

// TestAheadPanicInDecoding: a panic while decoding ahead comes out of DecodeInto on the caller's
// goroutine, as without Ahead, where the poll's recover turns it into the poll's error — it
// neither kills the process from the decoder's goroutine nor ends the page as if it were
// complete.
func TestAheadPanicInDecoding(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Error("the panic did not come through")
		}
	}()
	rest, err := DecodeInto(strings.NewReader(manyItems(3)), "value", func([]byte, *panicky, error) error { return nil }, Ahead())
	t.Errorf("DecodeInto returned %v, %v", rest, err)
}
