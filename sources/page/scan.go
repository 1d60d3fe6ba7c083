package page

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/go-json-experiment/json/jsontext"
)

// Scanner walks one JSON value the decoder has already read whole and checked (jsontext's
// ReadValue, which is how the json package hands a value to an UnmarshalJSON method), for a
// source's hand decoder (Names, Array, String, Cells). Reading the value a second time byte by
// byte is faster than reading it token by token off the stream a second time, and decoding
// was most of a large backlog's CPU (BENCHMARKS.md, issue 20).
//
// It trusts the syntax (where the commas and colons go, what a number looks like) but never the
// bounds: on bytes that are not JSON it returns an error or reads something meaningless, and
// never panics or loops.
type Scanner struct {
	b []byte
	i int
}

// NewScanner returns a Scanner at the start of b.
func NewScanner(b []byte) *Scanner { return &Scanner{b: b} }

// errEnd is a value cut short: only bytes that are not JSON get it.
var errEnd = errors.New("page: the value ends too soon")

// next moves past whitespace and the separators between values, and returns the byte there (0 at
// the end).
func (s *Scanner) next() byte {
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; c {
		case ' ', '\t', '\r', '\n', ',', ':':
		default:
			return c
		}
	}
	return 0
}

// PeekKind is the kind of what comes next, as jsontext.Decoder.PeekKind reports it: 0 at the end
// or before a byte that begins nothing.
func (s *Scanner) PeekKind() jsontext.Kind {
	switch c := s.next(); c {
	case 'n', 't', 'f', '"', '{', '}', '[', ']':
		return jsontext.Kind(c)
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return '0'
	}
	return 0
}

// ReadValue reads the next value whole and returns its bytes (in b, not a copy).
func (s *Scanner) ReadValue() (jsontext.Value, error) {
	k := s.PeekKind()
	start := s.i
	switch k {
	case 0:
		if s.i >= len(s.b) {
			return nil, errEnd
		}
		return nil, fmt.Errorf("page: invalid character %q where a value begins", s.b[s.i])
	case '}', ']':
		return nil, fmt.Errorf("page: %q where a value begins", byte(k))
	case '"':
		end := stringEnd(s.b, s.i+1)
		if end < 0 {
			return nil, errEnd
		}
		s.i = end
	case '{', '[':
		if !s.nested() {
			return nil, errEnd
		}
	default: // a number or a literal: it ends where the next value or delimiter does
		for s.i++; s.i < len(s.b); s.i++ {
			if c := s.b[s.i]; c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == ':' || c == ']' || c == '}' || c == '"' || c == '{' || c == '[' {
				break
			}
		}
	}
	return jsontext.Value(s.b[start:s.i]), nil
}

// SkipValue reads the next value and drops it.
func (s *Scanner) SkipValue() error {
	_, err := s.ReadValue()
	return err
}

// ReadToken reads the next delimiter ({ } [ ]) or null, the only tokens a hand decoder reads
// alone; anything else is an error, and is not consumed.
func (s *Scanner) ReadToken() (jsontext.Token, error) {
	switch k := s.PeekKind(); k {
	case '{', '}', '[', ']':
		s.i++
		switch k {
		case '{':
			return jsontext.BeginObject, nil
		case '}':
			return jsontext.EndObject, nil
		case '[':
			return jsontext.BeginArray, nil
		}
		return jsontext.EndArray, nil
	case 'n':
		if bytes.HasPrefix(s.b[s.i:], []byte("null")) {
			s.i += len("null")
			return jsontext.Null, nil
		}
	}
	if s.i >= len(s.b) {
		return jsontext.Token{}, errEnd
	}
	return jsontext.Token{}, fmt.Errorf("page: want a delimiter or null, got %q", s.b[s.i])
}

// nested moves past the object or array at s.i; false if it does not end.
func (s *Scanner) nested() bool {
	depth := 0
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '"':
			end := stringEnd(s.b, s.i+1)
			if end < 0 {
				return false
			}
			s.i = end
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				s.i++
				return true
			}
		}
		s.i++
	}
	return false
}

// stringEnd is the offset just past the closing quote of the string whose contents begin at
// b[i], or -1 if it does not close. A quote is the closing one when an even number of
// backslashes precede it.
func stringEnd(b []byte, i int) int {
	for i <= len(b) {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return -1
		}
		q += i
		n := 0
		for j := q - 1; j >= i && b[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		i = q + 1
	}
	return -1
}
