// Package page decodes an API's page of alerts as a stream: one alert at a time comes off the
// wire, so a 10,000-alert page never sits in memory whole. Defender for Endpoint and Graph put
// the alerts under "value" (OData), Defender for Cloud Apps under "data".
package page

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Decode reads one JSON object from r, calls item with the bytes of each element of its array
// field items (a fresh slice each time, which item may keep), and returns the object's other
// top-level fields. The object must be complete: a body cut short is an error even after every
// item was handed over, since the page may have held more.
func Decode(r io.Reader, items string, item func(raw []byte) error) (map[string]json.RawMessage, error) {
	return DecodeInto(r, items, func(raw []byte, _ *json.RawMessage, _ error) error { return item(raw) })
}

// DecodeInto is Decode that also decodes each item into a new T as it comes off the wire: item
// gets the item's bytes (a fresh slice), the T, and the error of decoding it (an item that is
// well-formed JSON but does not fit T, e.g. a wrong type: the caller dead-letters it; the page
// goes on). Each item's bytes are scanned twice (for its end, then to decode) instead of four
// times for Decode followed by json.Unmarshal; alerts are most of what alertexport reads.
func DecodeInto[T any](r io.Reader, items string, item func(raw []byte, v *T, err error) error) (map[string]json.RawMessage, error) {
	t := &tee{r: r}
	dec := json.NewDecoder(t)
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	rest := map[string]json.RawMessage{}
	found := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("page: want a field name, got %v", tok)
		}
		if key != items {
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return nil, fmt.Errorf("page: field %q: %w", key, err)
			}
			rest[key] = v
			t.forget(dec.InputOffset())
			continue
		}
		found = true
		if err := eachItem(dec, t, items, item); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("page: the response has no %q field", items)
	}
	// Nothing may follow the object but whitespace.
	if tok, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("page: unexpected %v after the response object", tok)
	}
	return rest, nil
}

func eachItem[T any](dec *json.Decoder, t *tee, items string, item func(raw []byte, v *T, err error) error) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil // "value": null — no alerts
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("page: field %q: want an array, got %v", items, tok)
	}
	for dec.More() {
		start := dec.InputOffset()
		v := new(T)
		derr := dec.Decode(v)
		var syn *json.SyntaxError
		if derr != nil && (t.err != nil || errors.As(derr, &syn) || errors.Is(derr, io.ErrUnexpectedEOF) || errors.Is(derr, io.EOF)) {
			return fmt.Errorf("page: %q item: %w", items, derr) // the stream is broken, not just this item
		}
		raw := t.take(start, dec.InputOffset())
		if err := item(raw, v, derr); err != nil {
			return err
		}
	}
	_, err = dec.Token() // ']'
	return err
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
// before the value, and forgets everything before to.
func (t *tee) take(from, to int64) []byte {
	b := bytes.TrimLeft(t.buf[from-t.base:to-t.base], " \t\r\n,")
	out := bytes.Clone(b)
	t.forget(to)
	return out
}

// forget drops the bytes before stream offset to.
func (t *tee) forget(to int64) {
	n := copy(t.buf, t.buf[to-t.base:])
	t.buf = t.buf[:n]
	t.base = to
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("page: want %q, got %v", want, tok)
	}
	return nil
}

// IsObject reports whether raw is a JSON object (an alert), not a scalar or array.
func IsObject(raw []byte) bool {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	return len(raw) > 0 && raw[0] == '{'
}
