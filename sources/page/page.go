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
	dec := json.NewDecoder(r)
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
			continue
		}
		found = true
		if err := eachItem(dec, items, item); err != nil {
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

func eachItem(dec *json.Decoder, items string, item func(raw []byte) error) error {
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
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("page: %q item: %w", items, err)
		}
		if err := item(raw); err != nil {
			return err
		}
	}
	_, err = dec.Token() // ']'
	return err
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
