package sinks

import (
	"strings"

	"github.com/alertexport/alertexport/sources/envelope"
)

// Subjects renders the `subject` template (docs/nats.md) (placeholders {source} {tenant} {severity}
// {event} {category}; config has validated it, and bounded its longest rendering) into subjects
// whose tokens are lower-case [a-z0-9_-] of at most envelope.MaxToken characters, and derives
// the stream's subjects from it.
type Subjects struct {
	tokens []string // the template split on dots
}

// NewSubjects parses a validated template.
func NewSubjects(template string) *Subjects {
	return &Subjects{tokens: strings.Split(template, ".")}
}

// Render is the subject of one alert version. (It runs once per message: it scans the template
// instead of building a strings.Replacer each time, which cost 4 % of the export's CPU.) A token
// that renders longer than envelope.MaxToken — a placeholder beside other text, each part within
// the bound — is shortened as a whole, as envelope.Token shortens one value.
func (s *Subjects) Render(a *envelope.Alert) string {
	b := make([]byte, 0, 64)
	for i, t := range s.tokens {
		if i > 0 {
			b = append(b, '.')
		}
		start := len(b)
		for {
			open := strings.IndexByte(t, '{')
			if open < 0 {
				b = append(b, t...)
				break
			}
			end := strings.IndexByte(t[open:], '}')
			if end < 0 {
				b = append(b, t...)
				break
			}
			v, ok := placeholder(a, t[open+1:open+end])
			if !ok { // not a placeholder: keep the brace and look on after it
				b = append(b, t[:open+1]...)
				t = t[open+1:]
				continue
			}
			b = append(b, t[:open]...)
			b = append(b, v...)
			t = t[open+end+1:]
		}
		if len(b)-start > envelope.MaxToken {
			b = append(b[:start], envelope.Token(string(b[start:]))...)
		}
	}
	return string(b)
}

// placeholder is the value of {name} for a, as a subject token.
func placeholder(a *envelope.Alert, name string) (string, bool) {
	switch name {
	case "source":
		return envelope.Token(a.Source), true
	case "tenant":
		return envelope.Token(a.Tenant), true
	case "severity":
		return envelope.Token(a.Severity), true
	case "event":
		return envelope.Token(a.Event), true
	case "category":
		if a.Category == nil {
			return envelope.Token(""), true
		}
		return envelope.Token(*a.Category), true
	}
	return "", false
}

// DeadLetter is the subject of a source's alerts that could not be normalized:
// <first token>.deadletter.<source>.<tenant>.
func (s *Subjects) DeadLetter(source, tenant string) string {
	return s.tokens[0] + ".deadletter." + envelope.Token(source) + "." + envelope.Token(tenant)
}

// Stream lists the subjects a stream must bind to hold every rendered and dead-letter subject:
// the template with each placeholder token as "*", and the dead-letter subjects unless that
// pattern already covers them (a stream may not list overlapping subjects).
func (s *Subjects) Stream() []string {
	pattern := make([]string, len(s.tokens))
	for i, t := range s.tokens {
		if strings.Contains(t, "{") {
			pattern[i] = "*"
		} else {
			pattern[i] = t
		}
	}
	dead := []string{s.tokens[0], "deadletter", "*", "*"}
	if covers(pattern, dead) {
		return []string{strings.Join(pattern, ".")}
	}
	return []string{strings.Join(pattern, "."), strings.Join(dead, ".")}
}

// covers reports whether every subject matching sub also matches pattern (tokens or "*").
func covers(pattern, sub []string) bool {
	if len(pattern) != len(sub) {
		return false
	}
	for i := range pattern {
		if pattern[i] != "*" && pattern[i] != sub[i] {
			return false
		}
	}
	return true
}
