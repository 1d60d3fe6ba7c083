// Package page decodes an API's page of alerts as a stream: one alert at a time comes off the
// wire, so a 10,000-alert page never sits in memory whole, and caps bound what is held at once
// (MaxItem, MaxFields): what goes past them is passed over without being held. Defender for
// Endpoint and Graph put the alerts under "value" (OData), Defender for Cloud Apps under "data".
//
// It reads with github.com/go-json-experiment/json (the module that became encoding/json/v2,
// still behind GOEXPERIMENT in Go 1.26): its streaming decoder finds an item's end and its
// unmarshal decodes it in about a third of encoding/json's time, and decoding JSON is most of
// alertexport's CPU (BENCHMARKS.md). Options keeps encoding/json's leniencies, so an alert
// decodes as it did before.
package page

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"slices"
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

// The caps on what a page decoder holds at once. A page is read as a stream, one item at a time, so
// these, not the page's length, bound the memory an answer takes (docs/limits.md). Tests set others
// with WithCaps.
const (
	// MaxItem caps one item (one alert), counting the comma and whitespace before it. Real
	// alerts are 3.5–64 KiB; 4 MiB is 64 times the largest seen, and half the embedded NATS
	// server's 8 MiB max_payload: a message carries the alert's bytes and what is normalized
	// from them, so a larger alert could not be published whole even there. An item over it is
	// passed over in bounded memory and handed on as a *TooLargeError, to be dead-lettered.
	MaxItem = 4 << 20
	// MaxFields caps the top-level fields beside the items (@odata.context, @odata.nextLink,
	// hasNext, …), together, names included: they are some hundred bytes (a Graph nextLink with
	// its skip token a few KiB). A field that does not fit is passed over (see Need).
	MaxFields = 64 << 10
	// TooLargePrefix is how much of an item over MaxItem is handed on, for its dead letter: an
	// alert's id, times and title come first, and 64 KiB (the largest real alert) fits well
	// inside an external NATS server's 1 MiB max_payload.
	TooLargePrefix = 64 << 10
)

const (
	// keyRoom is what a field may take past the MaxFields left, to read its name (and the
	// whitespace before it): the items' own field must stay reachable whatever came before.
	keyRoom = 1 << 10
	// maxKey is how much of the name of a field passed over is kept, to report it.
	maxKey = 256
	// chunkSize is the read size while passing over an item or field.
	chunkSize = 32 << 10
)

// ErrTooLarge is matched (errors.Is) by every error about an answer that holds more than
// alertexport reads: asking again brings the same answer, so such a failure is not retried.
var ErrTooLarge = errors.New("too large")

// TooLargeError is an item over the cap on one item. Decode and DecodeInto pass over it without
// holding it and hand its first bytes on with this error: the caller dead-letters it and the
// page goes on.
type TooLargeError struct {
	Size  int64    // the item's length in bytes
	Limit int64    // the cap it is over
	Kept  int      // how many of its first bytes were handed on
	Sum   [32]byte // SHA-256 of all its bytes: items that begin alike still differ here
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("too large: the alert is %d bytes, over the %d-byte cap on one alert; only its first %d bytes are kept", e.Size, e.Limit, e.Kept)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// FieldTooLargeError is a page whose field beside the items, one the caller needs to read on
// (Need), is over the cap on those fields.
type FieldTooLargeError struct {
	Field string
	Limit int64
}

func (e *FieldTooLargeError) Error() string {
	return fmt.Sprintf("page: %q is too large: it does not fit the %d-byte cap on the fields beside the alerts, and the next page cannot be asked without it", e.Field, e.Limit)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *FieldTooLargeError) Is(target error) bool { return target == ErrTooLarge }

// Caps are the caps a page is read under; a zero field keeps the default.
type Caps struct {
	Item   int64 // MaxItem
	Fields int64 // MaxFields
	Prefix int   // TooLargePrefix
}

// An Option tunes Decode and DecodeInto.
type Option func(*config)

// WithCaps reads under other caps (tests).
func WithCaps(c Caps) Option {
	return func(cf *config) {
		if c.Item > 0 {
			cf.item = c.Item
		}
		if c.Fields > 0 {
			cf.fields = c.Fields
		}
		if c.Prefix > 0 {
			cf.prefix = c.Prefix
		}
	}
}

// Need names the fields beside the items the caller reads to go on (Graph's @odata.nextLink,
// Cloud Apps' hasNext): one over the cap fails the page with a *FieldTooLargeError. Any other
// field over it is passed over, reported to Log, and left in the returned map with a nil value
// (so that its presence still shows).
func Need(fields ...string) Option {
	return func(cf *config) { cf.need = append(cf.need, fields...) }
}

// Borrow hands DecodeInto's item the item's bytes in the decoder's own buffer instead of a
// copy: they are valid only until item returns, and item must copy what it keeps. A source
// that writes each alert's envelope while it takes the alert (sources.Outbox.Queue, which
// copies the bytes of a dead letter) so saves a copy of every alert.
func Borrow() Option {
	return func(cf *config) { cf.borrow = true }
}

// Log is where a field passed over is reported, as a warning.
func Log(l *slog.Logger) Option {
	return func(cf *config) { cf.log = l }
}

type config struct {
	item, fields int64
	prefix       int
	need         []string
	log          *slog.Logger
	borrow       bool // DecodeInto: item's bytes are the buffer's, not a copy
	ahead        bool // DecodeInto: decode on a goroutine of its own (Ahead)
}

func newConfig(opts []Option) config {
	c := config{item: MaxItem, fields: MaxFields, prefix: TooLargePrefix}
	for _, o := range opts {
		o(&c)
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Decode reads one JSON object from r, calls item with the bytes of each element of its array
// field items (a fresh slice each time, which item may keep), and returns the object's other
// top-level fields. The object must be complete: a body cut short is an error even after every
// item was handed over, since the page may have held more. An item over the cap comes with a
// *TooLargeError and only its first bytes; err is nil for the others.
func Decode(r io.Reader, items string, item func(raw []byte, err error) error, opts ...Option) (map[string]json.RawMessage, error) {
	return decodeWith(r, items, opts, func(s *stream) error {
		v, err := s.dec.ReadValue()
		if err != nil {
			if s.over {
				raw, big, err := s.skipItem()
				if err != nil || big == nil {
					return err
				}
				return item(raw, big)
			}
			return fmt.Errorf("page: %q item: %w", items, pageErr(err)) // the stream is broken
		}
		if end := s.dec.InputOffset(); end-s.start > s.cfg.item {
			raw, big := s.tooLarge(s.start, end)
			return item(raw, big)
		}
		return item(clone(v), nil)
	})
}

// DecodeInto is Decode that also decodes each item into a new T: item gets the item's bytes (a
// fresh slice), the T, and the error of decoding it (an item that is well-formed JSON but does
// not fit T, e.g. a wrong type: the caller dead-letters it; the page goes on), or, for an item
// over the cap, its first bytes, an empty T and a *TooLargeError. Each item is decoded straight
// off the stream, in one pass, its bytes cut from what the decoder read.
func DecodeInto[T any](r io.Reader, items string, item func(raw []byte, v *T, err error) error, opts ...Option) (map[string]json.RawMessage, error) {
	if newConfig(opts).ahead {
		return decodeAhead(r, items, item, opts)
	}
	return decodeWith(r, items, opts, func(s *stream) error {
		start, depth := s.start, s.dec.StackDepth()
		v := new(T)
		err := jsonv2.UnmarshalDecode(s.dec, v)
		for err != nil && !s.over && s.err == nil && !broken(err) && s.dec.StackDepth() > depth {
			// The item does not fit T: skip what the decoder left of it, so the page goes on.
			_, serr := s.dec.ReadToken()
			if serr != nil {
				err = serr
			}
		}
		if err != nil && s.over {
			raw, big, err := s.skipItem()
			if err != nil || big == nil {
				return err
			}
			return item(raw, new(T), big)
		}
		if err != nil && (s.err != nil || broken(err)) {
			return fmt.Errorf("page: %q item: %w", items, pageErr(err)) // the stream is broken, not just this item
		}
		end := s.dec.InputOffset()
		if end == start { // nothing consumed: handing the same item over again would never end
			return fmt.Errorf("page: %q item: %w", items, err)
		}
		if end-start > s.cfg.item {
			raw, big := s.tooLarge(start, end)
			return item(raw, new(T), big)
		}
		raw := s.value(start, end)
		if !s.cfg.borrow {
			raw = clone(raw)
		}
		return item(raw, v, err)
	})
}

// decodeWith reads the page object from r and calls each with the stream at every element of
// the array field items; each must consume exactly that element, or pass over it (skipItem)
// when the stream stopped at the cap.
func decodeWith(r io.Reader, items string, opts []Option, each func(s *stream) error) (map[string]json.RawMessage, error) {
	s := &stream{r: r, items: items, cfg: newConfig(opts), limit: keyRoom + 1}
	s.dec = jsontext.NewDecoder(s, Options)
	if err := s.expectDelim('{'); err != nil {
		return nil, err
	}
	rest := map[string]json.RawMessage{}
	found := false
	for {
		s.begin(max(0, s.cfg.fields-s.used) + keyRoom)
		if s.dec.PeekKind() == '}' {
			break
		}
		tok, err := s.dec.ReadToken()
		if err != nil {
			if s.over {
				if err := s.skipField(rest); err != nil {
					return nil, err
				}
				continue
			}
			return nil, pageErr(err)
		}
		key := tok.String()
		if key == items {
			found = true
			if err := s.eachItem(each); err != nil {
				return nil, err
			}
			continue
		}
		v, err := s.dec.ReadValue()
		if err != nil {
			if s.over {
				if err := s.skipField(rest); err != nil {
					return nil, err
				}
				continue
			}
			return nil, fmt.Errorf("page: field %q: %w", key, pageErr(err))
		}
		if n := s.dec.InputOffset() - s.start; s.used+n <= s.cfg.fields {
			rest[key] = clone(v)
			s.used += n
		} else if err := s.passOver(rest, key, int64(len(v))); err != nil { // read within keyRoom, but over what was left
			return nil, err
		}
	}
	if _, err := s.dec.ReadToken(); err != nil { // the closing brace, or why it is missing
		return nil, s.structural(err)
	}
	if !found {
		return nil, fmt.Errorf("page: the response has no %q field", items)
	}
	// Nothing may follow the object but whitespace.
	s.begin(keyRoom)
	if _, err := s.dec.ReadToken(); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, s.structural(err)
		}
		return nil, errors.New("page: unexpected data after the response object")
	}
	return rest, nil
}

func (s *stream) eachItem(each func(s *stream) error) error {
	switch s.dec.PeekKind() {
	case 'n':
		_, err := s.dec.ReadToken() // "value": null — no alerts
		return s.structural(err)
	case '[':
	default:
		v, err := s.dec.ReadValue()
		if err != nil {
			return s.structural(err)
		}
		return fmt.Errorf("page: field %q: want an array, got %.20s", s.items, v)
	}
	if _, err := s.dec.ReadToken(); err != nil {
		return s.structural(err)
	}
	for {
		s.begin(s.cfg.item)
		if s.dec.PeekKind() == ']' {
			break
		}
		if err := each(s); err != nil {
			return err
		}
	}
	_, err := s.dec.ReadToken() // ']'
	return s.structural(err)
}

// stream is the decoder's reader. It keeps the bytes read since the start of the item or field
// being read, so that an item's own bytes can be cut out of the stream by the decoder's offsets,
// and reads nothing past the cap on that item or field, so that neither it nor the decoder ever
// holds more than that. What goes past the cap is passed over in chunks (skip), and a new
// decoder takes the stream up after it.
type stream struct {
	r      io.Reader // the body after buf
	dec    *jsontext.Decoder
	buf    []byte // the bytes read from stream offset base on
	base   int64
	start  int64 // stream offset where the item or field being read begins
	limit  int64 // no byte at or past this offset is read
	over   bool  // a read stopped at limit
	err    error // the body's failure other than EOF: it broke off, whatever the JSON says
	items  string
	cfg    config
	used   int64  // bytes of the fields beside the items kept (or passed over: their names)
	passed int    // fields passed over in this answer
	chunk  []byte // skip's read buffer
}

// errCap is what the decoder's read gets at the cap; the stream's over says so.
var errCap = errors.New("page: the cap on what is read at once")

func (s *stream) Read(p []byte) (int, error) {
	room := s.limit - s.base - int64(len(s.buf))
	if room <= 0 {
		s.over = true
		return 0, errCap
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	n, err := s.r.Read(p)
	s.buf = append(s.buf, p[:n]...)
	if err != nil && !errors.Is(err, io.EOF) {
		s.err = err
	}
	return n, err
}

// begin starts an item or field at the decoder's offset: what was read before is let go, and
// the decoder may read room bytes (and one to see where a number ends) from there.
func (s *stream) begin(room int64) {
	s.start = s.dec.InputOffset()
	s.forget(s.start)
	s.limit = s.start + room + 1
	s.over = false
}

// value is the stream's bytes [from, to), without the separator and whitespace before the
// value.
func (s *stream) value(from, to int64) []byte {
	return bytes.TrimLeft(s.buf[from-s.base:to-s.base], " \t\r\n,")
}

// forget drops the bytes before stream offset to.
func (s *stream) forget(to int64) {
	n := copy(s.buf, s.buf[to-s.base:])
	s.buf = s.buf[:n]
	s.base = to
}

func (s *stream) expectDelim(want jsontext.Kind) error {
	tok, err := s.dec.ReadToken()
	if err != nil {
		return s.structural(err)
	}
	if k := tok.Kind(); k != want {
		return fmt.Errorf("page: want %q, got %s", want, tok)
	}
	return nil
}

// structural is the error of a read between items and fields (the page's own brackets).
func (s *stream) structural(err error) error {
	if err == nil {
		return nil
	}
	if s.over {
		return fmt.Errorf("page: %w: more than %d bytes of whitespace or of one token outside the alerts and the fields beside them; this is not a page of alerts", ErrTooLarge, s.limit-s.start-1)
	}
	return pageErr(err)
}

// skipItem passes over the item at s.start, which is over the cap: its first bytes and a
// *TooLargeError, or nothing when there was only whitespace before the closing bracket.
func (s *stream) skipItem() ([]byte, *TooLargeError, error) {
	k, err := s.skip(false, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("page: %q item: %w", s.items, err)
	}
	if !k.present() {
		return nil, nil, nil
	}
	e := &TooLargeError{Size: k.size, Limit: s.cfg.item, Kept: len(k.prefix)}
	k.sum.Sum(e.Sum[:0])
	return k.prefix, e, nil
}

// tooLarge hands on the item [from, to) as skipItem does, for one over the cap that the decoder
// read whole all the same: it was in the decoder's buffer before the cap was set (read ahead
// under a larger one), so the cap is the same whatever the buffering.
func (s *stream) tooLarge(from, to int64) ([]byte, *TooLargeError) {
	v := s.value(from, to)
	e := &TooLargeError{Size: int64(len(v)), Limit: s.cfg.item, Kept: min(len(v), s.cfg.prefix), Sum: sha256.Sum256(v)}
	return clone(v[:e.Kept]), e
}

// skipField passes over the field at s.start, which does not fit the cap on the fields: the
// page fails if it is one the caller needs (or the items' own field, which should never be
// this far), else it is reported and left in rest with a nil value.
func (s *stream) skipField(rest map[string]json.RawMessage) error {
	k, err := s.skip(true, func(k *skipper) error {
		switch name, whole := k.name(); {
		case whole && name == s.items:
			return fmt.Errorf("page: %w: more than %d bytes of whitespace or other fields before %q", ErrTooLarge, s.limit-s.start-1, s.items)
		case whole && slices.Contains(s.cfg.need, name):
			return &FieldTooLargeError{Field: name, Limit: s.cfg.fields}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !k.present() {
		return nil
	}
	name, _ := k.name()
	return s.passOver(rest, name, k.size)
}

// passOver reports a field left out for the cap (failing the page if the caller needs it),
// and leaves its name in rest. The names count against the cap too: a page of endless small
// fields fails.
func (s *stream) passOver(rest map[string]json.RawMessage, name string, size int64) error {
	if slices.Contains(s.cfg.need, name) {
		return &FieldTooLargeError{Field: name, Limit: s.cfg.fields}
	}
	// One warning a page: a hostile answer of many large fields must not flood the log.
	lvl := slog.LevelWarn
	if s.passed++; s.passed > 1 {
		lvl = slog.LevelDebug
	}
	s.cfg.log.Log(context.Background(), lvl, "passed over a field of an API answer: it does not fit the cap on the fields beside the alerts",
		"field", name, "bytes", size, "cap", s.cfg.fields, "passed_over_in_this_answer", s.passed)
	rest[name] = nil
	if s.used += int64(len(name)) + 1; s.used > s.cfg.fields {
		return fmt.Errorf("page: %w: the fields beside the %q items are over %d bytes together", ErrTooLarge, s.items, s.cfg.fields)
	}
	return nil
}

// skip passes over the item (or, with member, the field) that begins at s.start, reading the
// rest of it in chunks that it does not keep, then starts a new decoder on what follows. check,
// if not nil, is called once the field's name is read, and its error ends the page at once.
func (s *stream) skip(member bool, check func(*skipper) error) (*skipper, error) {
	k := &skipper{member: member}
	if !member {
		k.keep, k.sum = s.cfg.prefix, sha256.New()
	}
	data := s.buf[s.start-s.base:]
	var rerr error
	for {
		for len(data) > 0 {
			n, done, err := k.feed(data)
			if err != nil {
				return nil, err
			}
			data = data[n:]
			if check != nil && k.state > sKey { // the name is whole
				if err := check(k); err != nil {
					return nil, err
				}
				check = nil
			}
			if done {
				return k, s.resync(data, member)
			}
		}
		if rerr != nil {
			return nil, pageErr(rerr)
		}
		if s.chunk == nil {
			s.chunk = make([]byte, chunkSize)
		}
		var n int
		n, rerr = s.r.Read(s.chunk)
		data = s.chunk[:n]
	}
}

// resync starts a new decoder where a skipped item or field ended. The new decoder first reads
// a made-up opening that puts it where the old one was (inside the page object, or inside its
// items array, after an element); then the stream goes on with rest and the body.
func (s *stream) resync(rest []byte, member bool) error {
	var pre []byte
	tokens := 3
	if member {
		pre = append(pre, `{"":0`...)
	} else {
		pre, _ = jsontext.AppendQuote(append(pre, '{'), s.items) // a Go string always quotes
		pre = append(pre, ":[0"...)
		tokens = 4
	}
	pre = append(pre, rest...)
	s.r = io.MultiReader(bytes.NewReader(pre), s.r)
	s.buf, s.base, s.start, s.over = s.buf[:0], 0, 0, false
	s.limit = int64(len(pre)) + 1
	s.dec = jsontext.NewDecoder(s, Options)
	for range tokens {
		if _, err := s.dec.ReadToken(); err != nil {
			return s.structural(err)
		}
	}
	return nil
}

// skipper finds the end of one JSON value, or of a field (a name, a colon, a value), fed in
// chunks, keeping only its length, the first bytes and the hash of the value. It checks no more
// of the JSON than it needs to find the end: what it passes over is dead-lettered or dropped,
// never decoded.
type skipper struct {
	member bool
	state  uint8
	comma  bool  // the separator was seen
	esc    bool  // after a backslash in a string
	inStr  bool  // in a string inside an object or array
	depth  int64 // of objects and arrays

	key    []byte // the field's name as written, without quotes, up to maxKey bytes
	keyLen int64
	size   int64
	keep   int
	prefix []byte
	sum    hash.Hash

	q, bs int // where the next '"' and '\' are in the chunk being fed, once looked for
}

const (
	sLead   = iota // whitespace and the separator
	sKey           // in the field's name
	sColon         // before the colon
	sValue         // before the field's value
	sString        // in a string value (the value's states from here on)
	sScalar        // in a number or literal
	sNested        // in an object or array
)

// feed takes the next bytes: it returns how many it used, and whether the value ended there.
// It also returns (early) once a field's name is whole.
func (k *skipper) feed(b []byte) (int, bool, error) {
	k.q, k.bs = -1, -1
	from := -1 // where the value's bytes begin in b
	if k.state >= sString {
		from = 0
	}
	done := func(n int, end bool) (int, bool, error) {
		if from >= 0 {
			k.note(b[from:n])
		}
		return n, end, nil
	}
	for i := 0; i < len(b); {
		c := b[i]
		switch k.state {
		case sLead, sValue:
			switch {
			case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			case c == ',' && k.state == sLead && !k.comma:
				k.comma = true
			case k.state == sLead && (k.member && c == '}' || !k.member && c == ']'):
				return i, true, nil // nothing here: the object or array ends
			case k.state == sLead && k.member:
				if c != '"' {
					return i, false, fmt.Errorf("invalid character %q before a field name", c)
				}
				k.state = sKey
			default:
				if err := k.begin(c); err != nil {
					return i, false, err
				}
				from = i
			}
			i++
		case sKey:
			j, closed := k.string(b, i)
			if closed {
				k.addKey(b[i : j-1]) // without the closing quote
				k.state = sColon
				return j, false, nil
			}
			k.addKey(b[i:j])
			i = j
		case sColon:
			switch {
			case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			case c == ':':
				k.state = sValue
			default:
				return i, false, fmt.Errorf("invalid character %q after a field name", c)
			}
			i++
		case sString:
			var closed bool
			if i, closed = k.string(b, i); closed {
				return done(i, true)
			}
		case sScalar:
			if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == ']' || c == '}' {
				return done(i, true)
			}
			i++
		case sNested:
			if k.inStr {
				var closed bool
				i, closed = k.string(b, i)
				k.inStr = !closed
				continue
			}
			switch c {
			case '"':
				k.inStr = true
			case '{', '[':
				k.depth++
			case '}', ']':
				if k.depth--; k.depth == 0 {
					return done(i+1, true)
				}
			}
			i++
		}
	}
	return done(len(b), false)
}

// begin takes the value's first byte.
func (k *skipper) begin(c byte) error {
	switch c {
	case '{', '[':
		k.state, k.depth = sNested, 1
	case '"':
		k.state = sString
	case ',', ':', ']', '}':
		return fmt.Errorf("invalid character %q where a value begins", c)
	default:
		k.state = sScalar
	}
	return nil
}

// string moves through a string from b[i]: where it got to, and whether the string closed.
func (k *skipper) string(b []byte, i int) (int, bool) {
	if k.esc {
		k.esc = false
		return i + 1, false
	}
	switch p := k.special(b, i); {
	case p == len(b):
		return p, false
	case b[p] == '\\':
		k.esc = true
		return p + 1, false
	default:
		return p + 1, true
	}
}

// special is where the next '"' or '\' at or after i is in b (len(b): none). Each is looked
// for again only once passed, so a chunk is scanned about once, with the fast IndexByte.
func (k *skipper) special(b []byte, i int) int {
	if k.q < i {
		k.q = len(b)
		if j := bytes.IndexByte(b[i:], '"'); j >= 0 {
			k.q = i + j
		}
	}
	if k.bs < i {
		k.bs = len(b)
		if j := bytes.IndexByte(b[i:], '\\'); j >= 0 {
			k.bs = i + j
		}
	}
	return min(k.q, k.bs)
}

// present reports whether there was a value, not only whitespace before the closing bracket.
func (k *skipper) present() bool { return k.state >= sString }

func (k *skipper) note(p []byte) {
	k.size += int64(len(p))
	if k.sum != nil {
		k.sum.Write(p)
	}
	if n := min(len(p), k.keep-len(k.prefix)); n > 0 {
		k.prefix = append(k.prefix, p[:n]...)
	}
}

func (k *skipper) addKey(p []byte) {
	k.keyLen += int64(len(p))
	if n := min(len(p), maxKey-len(k.key)); n > 0 {
		k.key = append(k.key, p[:n]...)
	}
}

// name is the field's name, and whether it is whole (not cut at maxKey).
func (k *skipper) name() (string, bool) {
	if k.keyLen > maxKey {
		return strings.ToValidUTF8(string(k.key), "\ufffd") + "…", false
	}
	var name string
	if Unmarshal(append(append([]byte{'"'}, k.key...), '"'), &name) != nil {
		return strings.ToValidUTF8(string(k.key), "\ufffd"), false
	}
	return name, true
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
// handed over again at every re-read. raw may be only the first bytes of an item (one over the
// cap): the fields whole in them count. ok is false when even those cannot be read.
func Version(raw []byte, timeKey string) (id string, t time.Time, ok bool) {
	var f map[string]jsontext.Value
	if Unmarshal(Fields(raw, "id", timeKey), &f) != nil ||
		Unmarshal(f["id"], &id) != nil || id == "" || Unmarshal(f[timeKey], &t) != nil || t.IsZero() {
		return "", time.Time{}, false
	}
	return id, t.UTC(), true
}

// Fields is a JSON object of the fields names of the item raw — or of what raw holds of it: its
// first bytes, for one over the cap — each under the name given, found as Options finds names
// (an exact name first, else one in another case; a repeated name keeps its last value). nil
// when raw does not begin an object.
func Fields(raw []byte, names ...string) []byte {
	dec := jsontext.NewDecoder(bytes.NewReader(raw), Options)
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil
	}
	exact := make([]jsontext.Value, len(names))
	folded := make([]jsontext.Value, len(names))
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			break
		}
		k := name.String()
		v, err := dec.ReadValue()
		if err != nil {
			break // the end of what raw holds
		}
		for i, n := range names {
			switch {
			case k == n:
				exact[i] = clone(v)
			case strings.EqualFold(k, n):
				folded[i] = clone(v)
			}
		}
	}
	out := []byte{'{'}
	for i, n := range names {
		v := exact[i]
		if v == nil {
			v = folded[i]
		}
		if v == nil {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out, _ = jsontext.AppendQuote(out, n)
		out = append(append(out, ':'), v...)
	}
	return append(out, '}')
}
