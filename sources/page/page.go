// Package page decodes an API's page of alerts as a stream: one alert at a time comes off the
// wire, so a 10,000-alert page never sits in memory whole. Defender for Endpoint and Graph put
// the alerts under "value" (OData), Defender for Cloud Apps under "data".
//
// It reads with github.com/go-json-experiment/json (the module that became encoding/json/v2,
// still behind GOEXPERIMENT in Go 1.26): its streaming decoder finds an item's end and its
// unmarshal decodes it in about a third of encoding/json's time, and decoding JSON is most of
// alertexport's CPU (BENCHMARKS.md). Options keeps encoding/json's leniencies, so an alert
// decodes as it did before.
package page

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// Options are encoding/json's rules, which the sources were written against: field names
// match case-insensitively but "_" and "-" count ("_id" is not "id"), a repeated name keeps its
// last value, times are read as leniently, and invalid UTF-8 is not a syntax error (each source
// dead-letters such an alert instead of losing the page).
var Options = jsonv2.JoinOptions(
	jsonv2.MatchCaseInsensitiveNames(true),
	jsonv1.MatchCaseSensitiveDelimiter(true),
	jsonv1.ParseTimeWithLooseRFC3339(true),
	jsontext.AllowDuplicateNames(true),
	jsontext.AllowInvalidUTF8(true),
)

// Unmarshal decodes raw into v as the page decoder does.
func Unmarshal(raw []byte, v any) error { return jsonv2.Unmarshal(raw, v, Options) }

// Decode reads one JSON object from r, calls item with the bytes of each element of its array
// field items (a fresh slice each time, which item may keep), and returns the object's other
// top-level fields. The object must be complete: a body cut short is an error even after every
// item was handed over, since the page may have held more.
func Decode(r io.Reader, items string, item func(raw []byte) error) (map[string]json.RawMessage, error) {
	return decodeWith(r, items, func(dec *jsontext.Decoder) error {
		v, err := dec.ReadValue()
		if err != nil {
			return fmt.Errorf("page: %q item: %w", items, pageErr(err)) // the stream is broken
		}
		return item(clone(v))
	})
}

// DecodeInto is Decode that also decodes each item into a new T: item gets the item's bytes (a
// fresh slice), the T, and the error of decoding it (an item that is well-formed JSON but does
// not fit T, e.g. a wrong type: the caller dead-letters it; the page goes on). Each item is
// decoded straight off the stream, in one pass, its bytes cut from what the decoder read.
func DecodeInto[T any](r io.Reader, items string, item func(raw []byte, v *T, err error) error) (map[string]json.RawMessage, error) {
	t := &tee{r: r}
	return decodeWith(t, items, func(dec *jsontext.Decoder) error {
		start, depth := dec.InputOffset(), dec.StackDepth()
		v := new(T)
		err := jsonv2.UnmarshalDecode(dec, v)
		for err != nil && t.err == nil && !broken(err) && dec.StackDepth() > depth {
			// The item does not fit T: skip what the decoder left of it, so the page goes on.
			_, serr := dec.ReadToken()
			if serr != nil {
				err = serr
			}
		}
		if err != nil && (t.err != nil || broken(err)) {
			return fmt.Errorf("page: %q item: %w", items, pageErr(err)) // the stream is broken, not just this item
		}
		end := dec.InputOffset()
		if end == start { // nothing consumed: handing the same item over again would never end
			return fmt.Errorf("page: %q item: %w", items, err)
		}
		raw := t.take(start, end)
		t.forget(end)
		return item(raw, v, err)
	})
}

// decodeWith reads the page object from r and calls each with the decoder at every element of
// the array field items; each must consume exactly that element.
func decodeWith(r io.Reader, items string, each func(dec *jsontext.Decoder) error) (map[string]json.RawMessage, error) {
	dec := jsontext.NewDecoder(r, Options)
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	rest := map[string]json.RawMessage{}
	found := false
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, pageErr(err)
		}
		key := tok.String()
		if key != items {
			v, err := dec.ReadValue()
			if err != nil {
				return nil, fmt.Errorf("page: field %q: %w", key, pageErr(err))
			}
			rest[key] = clone(v)
			continue
		}
		found = true
		if err := eachItem(dec, items, each); err != nil {
			return nil, err
		}
	}
	if _, err := dec.ReadToken(); err != nil { // the closing brace, or why it is missing
		return nil, pageErr(err)
	}
	if !found {
		return nil, fmt.Errorf("page: the response has no %q field", items)
	}
	// Nothing may follow the object but whitespace.
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, pageErr(err)
		}
		return nil, errors.New("page: unexpected data after the response object")
	}
	return rest, nil
}

func eachItem(dec *jsontext.Decoder, items string, each func(dec *jsontext.Decoder) error) error {
	switch dec.PeekKind() {
	case 'n':
		_, err := dec.ReadToken() // "value": null — no alerts
		return pageErr(err)
	case '[':
	default:
		v, err := dec.ReadValue()
		if err != nil {
			return pageErr(err)
		}
		return fmt.Errorf("page: field %q: want an array, got %.20s", items, v)
	}
	if _, err := dec.ReadToken(); err != nil {
		return pageErr(err)
	}
	for dec.PeekKind() != ']' {
		if err := each(dec); err != nil {
			return err
		}
	}
	_, err := dec.ReadToken() // ']', or why it is missing
	return pageErr(err)
}

// tee keeps the bytes the decoder has read and not yet handed over, so that an item's own bytes
// can be cut out of the stream by the decoder's offsets.
type tee struct {
	r    io.Reader
	buf  []byte
	base int64 // stream offset of buf[0]
	err  error // the reader's failure other than EOF: the body broke off, whatever json says
}

func (t *tee) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.buf = append(t.buf, p[:n]...)
	if err != nil && !errors.Is(err, io.EOF) {
		t.err = err
	}
	return n, err
}

// take returns a copy of the stream's bytes [from, to), without the separator and whitespace
// before the value.
func (t *tee) take(from, to int64) []byte {
	return clone(bytes.TrimLeft(t.buf[from-t.base:to-t.base], " \t\r\n,"))
}

// forget drops the bytes before stream offset to.
func (t *tee) forget(to int64) {
	n := copy(t.buf, t.buf[to-t.base:])
	t.buf = t.buf[:n]
	t.base = to
}

func expectDelim(dec *jsontext.Decoder, want jsontext.Kind) error {
	tok, err := dec.ReadToken()
	if err != nil {
		return pageErr(err)
	}
	if k := tok.Kind(); k != want {
		return fmt.Errorf("page: want %q, got %s", want, tok)
	}
	return nil
}

// broken reports whether err is the stream's (not JSON, cut short) rather than an item's.
func broken(err error) bool {
	var syn *jsontext.SyntacticError
	return errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// pageErr keeps a body that ends too soon recognizable as io.ErrUnexpectedEOF, as encoding/json
// reports it; the HTTP client retries such a page.
func pageErr(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// clone copies b without first zeroing the copy (the make+copy form the compiler turns into one
// uncleared allocation; bytes.Clone clears what it then overwrites), for the 3.5 KB–64 KiB of
// every alert.
func clone(b []byte) []byte {
	c := make([]byte, len(b))
	copy(c, b)
	return c
}

// IsObject reports whether raw is a JSON object (an alert), not a scalar or array.
func IsObject(raw []byte) bool {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	return len(raw) > 0 && raw[0] == '{'
}

// ItemErr is why an item the decoder handed over cannot be taken as it is: its decode error, or
// bytes that are not valid UTF-8 (which the decoder lets through so that one alert does not
// lose the page); nil when it can.
func ItemErr(raw []byte, decodeErr error) error {
	if decodeErr == nil && !utf8.Valid(raw) {
		return errors.New("the alert is not valid UTF-8")
	}
	return decodeErr
}

// Version reads only the id and the version time (the field timeKey) of an item that could not
// be decoded whole, so that its dead letter carries that version's message ID and is not
// handed over again at every re-read. ok is false when even those cannot be read.
func Version(raw []byte, timeKey string) (id string, t time.Time, ok bool) {
	var fields map[string]jsontext.Value
	if jsonv2.Unmarshal(raw, &fields, Options) != nil {
		return "", time.Time{}, false
	}
	field := func(name string) jsontext.Value {
		if v, ok := fields[name]; ok {
			return v
		}
		for k, v := range fields { // names match whatever their case, as in Options
			if strings.EqualFold(k, name) {
				return v
			}
		}
		return nil
	}
	if Unmarshal(field("id"), &id) != nil || id == "" || Unmarshal(field(timeKey), &t) != nil || t.IsZero() {
		return "", time.Time{}, false
	}
	return id, t.UTC(), true
}
