package page

import (
	"bytes"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// Names are the member names of an object a source decodes by hand (Object): decoding an alert
// by reflection was most of a large backlog's CPU (BENCHMARKS.md, issue 20). Object matches names
// as Options does: an exact name, else one in another case, "_" and "-" counting.
type Names struct {
	names []string
	lower map[string]int // by the name in lower case (ASCII): one lookup for most names, known or not
}

// NewNames returns the names of an object's members, each known by its index, in the order the
// API sends them: Object tries the name after the last one first, which spares it a lookup for
// each member of an answer in that order (any order decodes alike).
func NewNames(names ...string) *Names {
	n := &Names{names: names, lower: make(map[string]int, len(names))}
	for i, s := range names {
		n.lower[strings.ToLower(s)] = i
	}
	return n
}

// index is the index of member name, or -1: the exact name, else one equal under Unicode case
// folding (strings.EqualFold). guess is the index to try first. An ASCII name is looked up in
// lower case, which for ASCII is that folding; only another name is compared with each.
func (n *Names) index(name []byte, guess int) int {
	if guess < len(n.names) && string(name) == n.names[guess] {
		return guess
	}
	var buf [64]byte
	if len(name) <= len(buf) {
		low, ascii := buf[:len(name)], true
		for k, c := range name {
			if c >= utf8.RuneSelf {
				ascii = false
				break
			}
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			low[k] = c
		}
		if ascii {
			if i, ok := n.lower[string(low)]; ok {
				return i
			}
			return -1
		}
	}
	for i, s := range n.names {
		if bytes.EqualFold(name, []byte(s)) {
			return i
		}
	}
	return -1
}

// Object reads the object at dec's position, calling member with the index in n of each
// member's name, which must read the member's value; members of other names are skipped. A null
// reads as an object without members. A repeated name is handed over each time (the last value
// wins, as with Options).
func (n *Names) Object(dec *jsontext.Decoder, member func(i int) error) error {
	if ok, err := open(dec, '{', "an object"); !ok {
		return err
	}
	var unq []byte
	next := 0
	for dec.PeekKind() != '}' {
		raw, err := dec.ReadValue()
		if err != nil {
			return err
		}
		name := raw[1 : len(raw)-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			unq, _ = jsontext.AppendUnquote(unq[:0], raw) // the decoder checked it; invalid UTF-8 is the item's (ItemErr)
			name = unq
		}
		i := n.index(name, next)
		if i < 0 {
			if err := dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		next = i + 1
		if err := member(i); err != nil {
			return fmt.Errorf("%s: %w", n.names[i], err)
		}
	}
	_, err := dec.ReadToken()
	return err
}

// Array reads the array at dec's position, calling item for each element, which must read it. A
// null reads as an empty array.
func Array(dec *jsontext.Decoder, item func() error) error {
	if ok, err := open(dec, '[', "an array"); !ok {
		return err
	}
	for dec.PeekKind() != ']' {
		if err := item(); err != nil {
			return err
		}
	}
	_, err := dec.ReadToken()
	return err
}

// open reads the opening delim of an object or array (want names it), and reports whether its
// members follow: not for null (err nil), another kind or a broken stream (err says which).
func open(dec *jsontext.Decoder, delim jsontext.Kind, want string) (bool, error) {
	switch dec.PeekKind() {
	case 'n':
		_, err := dec.ReadToken()
		return false, err
	case delim:
		_, err := dec.ReadToken()
		return err == nil, err
	}
	return false, kindErr(dec, want)
}

// String reads a string or null at dec's position: nil for null.
func String(dec *jsontext.Decoder) (*string, error) {
	raw, err := dec.ReadValue()
	if err != nil {
		return nil, err
	}
	switch raw.Kind() {
	case 'n':
		return nil, nil
	case '"':
		s := unquote(raw)
		return &s, nil
	}
	return nil, fmt.Errorf("want a string, got %s", kindName(raw.Kind()))
}

// unquote is the string a JSON string literal the decoder has checked stands for. Invalid UTF-8
// becomes U+FFFD, as Options reads it: the alert is dead-lettered for it (ItemErr).
func unquote(raw jsontext.Value) string {
	if s := raw[1 : len(raw)-1]; bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return string(s)
	}
	b, _ := jsontext.AppendUnquote(nil, raw)
	return string(b)
}

// readTime reads a time (RFC 3339, as leniently as encoding/json: time.Time.UnmarshalText) or
// null at dec's position: ok is false for null.
func readTime(dec *jsontext.Decoder) (t time.Time, ok bool, err error) {
	raw, err := dec.ReadValue()
	if err != nil {
		return t, false, err
	}
	switch raw.Kind() {
	case 'n':
		return t, false, nil
	case '"':
		s := raw[1 : len(raw)-1]
		if bytes.IndexByte(s, '\\') >= 0 {
			s, _ = jsontext.AppendUnquote(nil, raw)
		}
		if err := t.UnmarshalText(s); err != nil {
			return t, false, err
		}
		return t, true, nil
	}
	return t, false, fmt.Errorf("want a time, got %s", kindName(raw.Kind()))
}

func kindErr(dec *jsontext.Decoder, want string) error {
	k := dec.PeekKind()
	if k == 0 { // the decoder's own error: let the read say it
		_, err := dec.ReadValue()
		return err
	}
	if err := dec.SkipValue(); err != nil {
		return err
	}
	return fmt.Errorf("want %s, got %s", want, kindName(k))
}

func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 'f', 't':
		return "a boolean"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "nothing"
}

// Cells holds what an object decoded by hand reads into *string and *time.Time fields until
// Done, so that they take three allocations in all instead of one or two each: a string's bytes
// go into one buffer that becomes one string, and the pointers point into one slice of each
// type. Strings were about half of the allocations of a large backlog's export. The zero value is
// ready; reuse it (a sync.Pool). Call Done after each object, and before the fields read move (the
// elements of a slice about to grow): it sets them, in the order read, so that a field read twice
// gets the last value, as with Options.
type Cells struct {
	buf   []byte
	strs  []stringCell
	times []timeCell
	set   int // string cells that are not null
}

type stringCell struct {
	dst      **string
	from, to int // from < 0: null
}

type timeCell struct {
	dst  **time.Time
	t    time.Time
	null bool
}

// String reads a string or null at dec's position into *dst, at Done (nil for null).
func (c *Cells) String(dec *jsontext.Decoder, dst **string) error {
	raw, err := dec.ReadValue()
	if err != nil {
		return err
	}
	switch raw.Kind() {
	case 'n':
		c.strs = append(c.strs, stringCell{dst: dst, from: -1}) // it may follow a value of the same field
		return nil
	case '"':
		from := len(c.buf)
		if s := raw[1 : len(raw)-1]; bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
			c.buf = append(c.buf, s...)
		} else {
			c.buf, _ = jsontext.AppendUnquote(c.buf, raw) // invalid UTF-8 becomes U+FFFD (see unquote)
		}
		c.strs = append(c.strs, stringCell{dst: dst, from: from, to: len(c.buf)})
		c.set++
		return nil
	}
	return fmt.Errorf("want a string, got %s", kindName(raw.Kind()))
}

// Time reads a time or null at dec's position (as readTime does) into *dst, at Done (nil for null).
func (c *Cells) Time(dec *jsontext.Decoder, dst **time.Time) error {
	t, ok, err := readTime(dec)
	if err != nil {
		return err
	}
	c.times = append(c.times, timeCell{dst: dst, t: t, null: !ok})
	return nil
}

// Done sets the fields read since the last Done.
func (c *Cells) Done() {
	var all string
	var cells []string
	if c.set > 0 {
		all, cells = string(c.buf), make([]string, 0, c.set)
	}
	for _, s := range c.strs {
		if s.from < 0 {
			*s.dst = nil
			continue
		}
		cells = append(cells, all[s.from:s.to]) // never past c.set: the pointers stay put
		*s.dst = &cells[len(cells)-1]
	}
	if len(c.times) > 0 {
		cells := make([]time.Time, len(c.times))
		for i, t := range c.times {
			if t.null {
				*t.dst = nil
				continue
			}
			cells[i] = t.t
			*t.dst = &cells[i]
		}
	}
	clear(c.strs)
	clear(c.times)
	c.buf, c.strs, c.times, c.set = c.buf[:0], c.strs[:0], c.times[:0], 0
}
