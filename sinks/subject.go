package sinks

import (
	"strings"

	"github.com/alertexport/alertexport/sources/envelope"
)

// Subjects renders the `subject` template of SPEC §2 (placeholders {source} {tenant} {severity}
// {event} {category}; config has validated it) into subjects whose tokens are lower-case
// [a-z0-9_-], and derives the stream's subjects from it.
type Subjects struct {
	tokens []string // the template split on dots
}

// NewSubjects parses a validated template.
func NewSubjects(template string) *Subjects {
	return &Subjects{tokens: strings.Split(template, ".")}
}

// Render is the subject of one alert version.
func (s *Subjects) Render(a *envelope.Alert) string {
	category := ""
	if a.Category != nil {
		category = *a.Category
	}
	r := strings.NewReplacer(
		"{source}", envelope.Token(a.Source), "{tenant}", envelope.Token(a.Tenant),
		"{severity}", envelope.Token(a.Severity), "{event}", envelope.Token(a.Event),
		"{category}", envelope.Token(category))
	out := make([]string, len(s.tokens))
	for i, t := range s.tokens {
		out[i] = r.Replace(t)
	}
	return strings.Join(out, ".")
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
