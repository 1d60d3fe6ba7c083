package page

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// walker is what Scanner shares with jsontext.Decoder: the hand decoders use only these.
type walker interface {
	PeekKind() jsontext.Kind
	ReadValue() (jsontext.Value, error)
	ReadToken() (jsontext.Token, error)
}

// walk reads one value as a hand decoder does (delimiters by ReadToken, names and scalars by
// ReadValue, and every object and array also whole by ReadValue first on a copy of the
// position) and writes what it read to out; false once a read failed.
func walk(w walker, out *strings.Builder, depth int) bool {
	switch k := w.PeekKind(); k {
	case '{', '[':
		if depth > 64 {
			v, err := w.ReadValue()
			fmt.Fprintf(out, "deep %s|", v)
			return err == nil
		}
		if _, err := w.ReadToken(); err != nil {
			return false
		}
		fmt.Fprintf(out, "%c", k)
		end := jsontext.Kind('}')
		if k == '[' {
			end = ']'
		}
		for w.PeekKind() != end {
			if k == '{' {
				name, err := w.ReadValue()
				if err != nil {
					return false
				}
				fmt.Fprintf(out, "%s:", name)
			}
			if !walk(w, out, depth+1) {
				return false
			}
		}
		if _, err := w.ReadToken(); err != nil {
			return false
		}
		fmt.Fprintf(out, "%c", end)
		return true
	default:
		v, err := w.ReadValue()
		if err != nil {
			return false
		}
		fmt.Fprintf(out, "%s|", v)
		return true
	}
}

// TestScanner: a Scanner reads what jsontext.Decoder reads from the same checked value, and on
// bytes that are not JSON it fails or reads on, without panicking or looping.
func TestScanner(t *testing.T) {
	valid := []string{
		`{}`, `[]`, `null`, `true`, `-1.5e+3`, `"x"`,
		`{"a":1,"b":[true,false,null],"c":{"d":"e"}}`,
		` { "a" : [ 1 , 2 ] , "b" : "c" } `,
		`{"s":"quote \" and backslash \\ and \\\" and \u0022 and ] } , :"}`,
		`{"s":"\\","t":"\\\\"}`,
		`["{", "[", "}", "]"]`,
		"{\"bad utf-8\":\"a\xffb\"}",
		`{"a":{"b":{"c":[[[{}]]]}}}`,
	}
	for _, in := range valid {
		t.Run(in, func(t *testing.T) {
			var want, got strings.Builder
			walk(jsontext.NewDecoder(strings.NewReader(in), Options), &want, 0)
			walk(NewScanner(bytes.TrimSpace([]byte(in))), &got, 0)
			if got.String() != want.String() {
				t.Errorf("the scanner read %q, the decoder %q", got.String(), want.String())
			}
		})
	}
	invalid := []string{``, `"`, `"\"`, `{`, `[1,`, `{"a":`, `{"a"`, `}`, `]`, `x`, `{1:2}`, `[[[[`, `"\\\"`, `{"a":"b"`}
	for _, in := range invalid {
		t.Run("invalid "+in, func(t *testing.T) {
			var got strings.Builder
			if walk(NewScanner([]byte(in)), &got, 0) && in != `x` && in != `{1:2}` {
				t.Errorf("read %q whole: %q", in, got.String())
			}
		})
	}
}

// FuzzScanner: on a value jsontext accepts, a Scanner reads the same as the decoder; on any
// bytes, reading never panics and every read either fails or moves on.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{`{"a":[1,"x\"y",{"b":null}],"c":true}`, `"\\\\"`, `[{"id":"a","t":"2024-01-02T03:04:05Z"}]`, `{"a":"}"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s := NewScanner(in)
		for i := 0; ; i++ {
			before := s.i
			if _, err := s.ReadValue(); err != nil || s.i >= len(in) {
				break
			}
			if s.i <= before || i > len(in) {
				t.Fatalf("ReadValue did not move on from %d", before)
			}
		}
		var got strings.Builder
		walk(NewScanner(in), &got, 0)

		dec := jsontext.NewDecoder(bytes.NewReader(in), Options)
		v, err := dec.ReadValue()
		if err != nil {
			return
		}
		v = bytes.Clone(v) // the decoder's buffer, which the next read reuses
		if _, err := dec.ReadToken(); err == nil {
			return // more than one value: never handed to a Scanner
		}
		var want strings.Builder
		got.Reset()
		walk(jsontext.NewDecoder(bytes.NewReader(v), Options), &want, 0)
		walk(NewScanner(v), &got, 0)
		if got.String() != want.String() {
			t.Fatalf("on %q the scanner read %q, the decoder %q", v, got.String(), want.String())
		}
	})
}
