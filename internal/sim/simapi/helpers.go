package simapi

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// Small helpers the APIs' models and queries share.

// Ptr is a pointer to a copy of v.
func Ptr[T any](v T) *T { return &v }

// ClonePtr is a pointer to a copy of *p, or nil.
func ClonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// NameGUID is a stable GUID for a name (a detector per title).
func NameGUID(name string) string {
	h := fnv.New128a()
	h.Write([]byte(name))
	var b [16]byte
	copy(b[:], h.Sum(nil))
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return FormatGUID(b)
}

// EncodeWire encodes v without Go's HTML escaping (MDE writes "C&C" as is;
// see the description in alerts.md) and with non-ASCII escaped. Buffers are
// pooled: generating 100,000 alerts renders some 350 MB of JSON.
func EncodeWire(v any) ([]byte, error) {
	r := renderers.Get().(*renderer)
	defer renderers.Put(r)
	r.buf.Reset()
	if err := r.enc.Encode(v); err != nil {
		return nil, err
	}
	r.esc = AppendEscapedNonASCII(r.esc[:0], bytes.TrimSuffix(r.buf.Bytes(), []byte("\n")))
	return bytes.Clone(r.esc), nil
}

// AppendEscapedNonASCII appends the JSON text b to dst with every non-ASCII
// character written as a \uXXXX escape (surrogate pairs beyond the BMP).
// Choice: Microsoft does not document the escaping of its responses; the
// OData library's JSON writer (Microsoft.OData.Core,
// ODataStringEscapeOption.EscapeNonAscii by default) escapes this way, and it
// is the more demanding form for a client that handles the bytes itself.
// Non-ASCII only occurs inside strings, so the rewrite is safe on a whole
// document.
func AppendEscapedNonASCII(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		j := i
		for j < len(b) && b[j] < utf8.RuneSelf {
			j++
		}
		dst = append(dst, b[i:j]...)
		if j == len(b) {
			break
		}
		r, size := utf8.DecodeRune(b[j:])
		i = j + size
		if r > 0xFFFF {
			r1, r2 := utf16.EncodeRune(r)
			dst = appendU(appendU(dst, r1), r2)
			continue
		}
		dst = appendU(dst, r)
	}
	return dst
}

// QueryPair is one key=value of a query string, as sent and decoded.
type QueryPair struct {
	Raw        string // as sent, for the next link
	Key, Value string // percent-decoded, '+' as space
}

// renderer is EncodeWire's pooled buffers.
type renderer struct {
	buf bytes.Buffer
	enc *json.Encoder
	esc []byte
}

var renderers = sync.Pool{New: func() any {
	r := &renderer{}
	r.enc = json.NewEncoder(&r.buf)
	r.enc.SetEscapeHTML(false)
	return r
}}

func appendU(b []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
}

// ParseDotNetInt64 parses as .NET's long.TryParse does, which ODL uses for
// $top and $skip: surrounding white space and a leading sign are allowed.
func ParseDotNetInt64(s string) (int64, bool) {
	s = strings.Trim(s, " \t\n\v\f\r")
	digits := strings.TrimLeft(s, "+-")
	if len(s)-len(digits) > 1 || digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
