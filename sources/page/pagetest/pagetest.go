// Package pagetest makes API answers of any size for tests, produced as they are read: a test
// streams a gigabyte alert through the page decoder without holding it, and measures what the
// decoder allocated meanwhile.
package pagetest

import (
	"bytes"
	"io"
	"net/http"
	"runtime"
	"sync/atomic"
)

// A Part of a body: text, or n copies of one byte.
type Part struct {
	text string
	fill byte
	n    int64
}

// Text is a part of literal text.
func Text(s string) Part { return Part{text: s} }

// Fill is n copies of c.
func Fill(c byte, n int64) Part { return Part{fill: c, n: n} }

// Body reads as its parts one after the other.
type Body struct {
	parts  []Part
	block  []byte // copies of the current Fill byte, copied out
	served int64
}

// New is a body of parts.
func New(parts ...Part) *Body { return &Body{parts: parts} }

// Len is the body's whole length.
func Len(parts ...Part) int64 {
	var n int64
	for _, p := range parts {
		n += int64(len(p.text)) + p.n
	}
	return n
}

// Served is how many bytes were read so far.
func (b *Body) Served() int64 { return b.served }

func (b *Body) Read(p []byte) (int, error) {
	for len(b.parts) > 0 {
		pt := &b.parts[0]
		switch {
		case pt.text != "":
			n := copy(p, pt.text)
			pt.text = pt.text[n:]
			b.served += int64(n)
			return n, nil
		case pt.n > 0:
			if len(b.block) == 0 || b.block[0] != pt.fill {
				b.block = bytes.Repeat([]byte{pt.fill}, 32<<10)
			}
			n := int(min(int64(len(p)), pt.n))
			for i := 0; i < n; {
				i += copy(p[i:n], b.block)
			}
			pt.n -= int64(n)
			b.served += int64(n)
			return n, nil
		}
		b.parts = b.parts[1:]
	}
	return 0, io.EOF
}

// Handler answers every request with a body of parts (made afresh for each), produced as it is
// sent, and counts the requests in requests (nil: not counted): an answer too large to store.
func Handler(parts func() []Part, requests *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if requests != nil {
			requests.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.Copy(w, New(parts()...))
	}
}

// Allocated is how many bytes the process allocated while fn ran (runtime.MemStats
// TotalAlloc): what a streaming reader allocated, whether or not it still holds it. Run it
// where no other test allocates meanwhile (not in a parallel test).
func Allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
