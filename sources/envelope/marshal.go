package envelope

import (
	"errors"
	"strconv"
	"time"
	"unicode/utf8"
)

// Marshal encodes a as the message body: what encoding/json writes for the Alert type with
// HTML escaping off (<, > and & as they are), byte for byte, but written field by field instead
// of by reflection, which made it a tenth of the export's CPU (BENCHMARKS.md).
// TestMarshalMatchesEncodingJSON holds it to encoding/json's output for every field.
//
// Raw is written exactly as the API sent it, without scanning it again: it must be one valid
// JSON value, which every source guarantees by taking it from the page decoder (that checked
// it). Raw is most of a message's bytes, so this saves a full pass over them.
func Marshal(a *Alert) ([]byte, error) {
	w := writer{b: make([]byte, 0, size(a))}
	w.key(`{"schema":`).str(a.Schema)
	w.key(`,"id":`).str(a.ID)
	w.key(`,"provider_alert_id":`).strp(a.ProviderAlertID)
	w.key(`,"source":`).str(a.Source)
	w.key(`,"service_source":`).strp(a.ServiceSource)
	w.key(`,"tenant":`).str(a.Tenant)
	w.key(`,"tenant_id":`).str(a.TenantID)
	w.key(`,"event":`).str(a.Event)
	w.key(`,"title":`).strp(a.Title)
	w.key(`,"description":`).strp(a.Description)
	w.key(`,"severity":`).str(a.Severity)
	w.key(`,"status":`).str(a.Status)
	w.key(`,"category":`).strp(a.Category)
	w.key(`,"created_at":`).timep(a.CreatedAt)
	w.key(`,"updated_at":`).time(a.UpdatedAt)
	w.key(`,"first_activity_at":`).timep(a.FirstActivityAt)
	w.key(`,"last_activity_at":`).timep(a.LastActivityAt)
	w.key(`,"resolved_at":`).timep(a.ResolvedAt)
	w.key(`,"classification":`).strp(a.Classification)
	w.key(`,"determination":`).strp(a.Determination)
	w.key(`,"detection_source":`).strp(a.DetectionSource)
	w.key(`,"incident_id":`).strp(a.IncidentID)
	w.key(`,"assigned_to":`).strp(a.AssignedTo)
	w.key(`,"mitre_techniques":`).strs(a.MitreTechniques)
	w.key(`,"mitre_tactics":`).strs(a.MitreTactics)
	w.key(`,"url":`).strp(a.URL)
	w.key(`,"entities":`)
	if a.Entities == nil {
		w.key("null")
	} else {
		w.key("[")
		for i := range a.Entities {
			if i > 0 {
				w.key(",")
			}
			w.entity(&a.Entities[i])
		}
		w.key("]")
	}
	w.key(`,"raw":`)
	if len(a.Raw) == 0 {
		w.key("null")
	} else {
		w.b = append(w.b, a.Raw...)
	}
	w.key("}")
	if w.err != nil {
		return nil, w.err
	}
	return w.b, nil
}

// size is about what a's envelope takes, escapes aside: one allocation for the whole message,
// where growing by append would copy an alert with 64 KiB command lines many times over.
func size(a *Alert) int {
	n := 1024 + len(a.Raw) + len(a.Schema) + len(a.ID) + len(a.Source) + len(a.Tenant) + len(a.TenantID) +
		len(a.Event) + len(a.Severity) + len(a.Status)
	for _, p := range []*string{a.ProviderAlertID, a.ServiceSource, a.Title, a.Description, a.Category,
		a.Classification, a.Determination, a.DetectionSource, a.IncidentID, a.AssignedTo, a.URL} {
		if p != nil {
			n += len(*p)
		}
	}
	for _, l := range [][]string{a.MitreTechniques, a.MitreTactics} {
		for _, s := range l {
			n += len(s) + 3
		}
	}
	for i := range a.Entities {
		e := &a.Entities[i]
		n += 256 + len(e.Type) + len(e.Name) + len(e.ID) + len(e.Domain) + len(e.UPN) + len(e.SID) +
			len(e.AADID) + len(e.Address) + len(e.URL) + len(e.Path) + len(e.SHA1) + len(e.SHA256) +
			len(e.CommandLine) + len(e.ParentName) + len(e.PolicyType) + len(e.Key) + len(e.Hive) +
			len(e.ValueType) + len(e.Value)
	}
	return n
}

func (w *writer) entity(e *Entity) {
	w.key(`{"type":`).str(e.Type)
	w.opt(`,"name":`, e.Name).opt(`,"id":`, e.ID).opt(`,"domain":`, e.Domain).opt(`,"upn":`, e.UPN)
	w.opt(`,"sid":`, e.SID).opt(`,"aad_id":`, e.AADID).opt(`,"address":`, e.Address).opt(`,"url":`, e.URL)
	w.opt(`,"path":`, e.Path).opt(`,"sha1":`, e.SHA1).opt(`,"sha256":`, e.SHA256)
	w.optInt(`,"pid":`, e.PID).opt(`,"command_line":`, e.CommandLine)
	w.optInt(`,"parent_pid":`, e.ParentPID).opt(`,"parent_name":`, e.ParentName)
	w.opt(`,"policy_type":`, e.PolicyType).opt(`,"key":`, e.Key).opt(`,"hive":`, e.Hive)
	w.opt(`,"value_type":`, e.ValueType).opt(`,"value":`, e.Value)
	w.key("}")
}

// writer appends JSON to b; the first error sticks.
type writer struct {
	b   []byte
	err error
}

// key appends s as it is: punctuation and keys, which are constants.
func (w *writer) key(s string) *writer {
	w.b = append(w.b, s...)
	return w
}

func (w *writer) str(s string) *writer {
	w.b = appendString(w.b, s)
	return w
}

// plain8 reports whether the eight bytes of s at i are all ASCII that a JSON string holds as
// is: none a control character, '"', '\\' or a byte of a multi-byte character (SWAR: each test
// sets the high bit of a byte that matches; none may be a false negative).
func plain8(s string, i int) bool {
	w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	zero := func(v uint64) uint64 { return (v - ones) & ^v }
	return (w|zero(w^('"'*ones))|zero(w^('\\'*ones))|(w-0x20*ones)&^w)&highs == 0
}

// appendString appends s as a JSON string the way encoding/json writes it with HTML escaping
// off: ", \ and control characters escaped (\n, \r, \t, \b, \f, else \u00XX), invalid UTF-8 as
// \ufffd, U+2028 and U+2029 escaped (JavaScript reads them as line ends); everything else as is.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time while none needs a look of its own: most of an alert's text
		// is plain ASCII (descriptions, command lines, paths).
		for i+8 <= len(s) && plain8(s, i) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func (w *writer) strp(s *string) *writer {
	if s == nil {
		return w.key("null")
	}
	return w.str(*s)
}

func (w *writer) strs(l []string) *writer {
	if l == nil {
		return w.key("null")
	}
	w.key("[")
	for i, s := range l {
		if i > 0 {
			w.key(",")
		}
		w.str(s)
	}
	return w.key("]")
}

// opt appends key and s unless s is empty (omitempty).
func (w *writer) opt(key, s string) *writer {
	if s == "" {
		return w
	}
	return w.key(key).str(s)
}

func (w *writer) optInt(key string, n *int64) *writer {
	if n == nil {
		return w
	}
	w.key(key)
	w.b = strconv.AppendInt(w.b, *n, 10)
	return w
}

// time appends t as time.Time's MarshalJSON does: RFC 3339 with nanoseconds, years 0–9999 only.
func (w *writer) time(t time.Time) *writer {
	if y := t.Year(); y < 0 || y > 9999 {
		if w.err == nil {
			w.err = errors.New("envelope: a time's year is outside [0,9999]")
		}
		return w.key("null")
	}
	w.b = append(w.b, '"')
	w.b = t.AppendFormat(w.b, time.RFC3339Nano)
	w.b = append(w.b, '"')
	return w
}

func (w *writer) timep(t *time.Time) *writer {
	if t == nil {
		return w.key("null")
	}
	return w.time(*t)
}
