package cloudapps

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// alert is a Defender for Cloud Apps alert as GET/POST /api/v1/alerts/ sends it
// (learn.microsoft.com/defender-cloud-apps/api-alerts). Keys the docs leave out of the property
// table but every example has (resolveTime, URL, contextId) are read too; "null" strings, seen in
// captured data, count as absent.
type alert struct {
	ID                    string     `json:"_id"`
	Timestamp             *millis    `json:"timestamp"`
	Entities              []entity   `json:"entities"`
	Title                 *string    `json:"title"`
	Description           *string    `json:"description"`
	SeverityValue         *int       `json:"severityValue"`
	ResolutionStatusValue *int       `json:"resolutionStatusValue"`
	Stories               []int      `json:"stories"`
	Intent                []int      `json:"intent"`
	ResolveTime           *flexTime  `json:"resolveTime"`
	URL                   nullString `json:"URL"`
}

// closed reports whether the alert is closed: resolutionStatusValue 1–5 (0 is open; a value
// the docs do not list is neither, and is versioned as best it can be, see version).
func (a *alert) closed() bool {
	return a.ResolutionStatusValue != nil && *a.ResolutionStatusValue >= 1 && *a.ResolutionStatusValue <= 5
}

// version is the alert's version (docs/messages.md): resolveTime once closed, timestamp while open
// (marking an alert read changes neither). A closing cannot come before the alert, so a
// resolveTime earlier than the timestamp (the documented example has one) counts as the
// timestamp; a status the docs do not list uses resolveTime when there is one. ok is false
// when the time it needs is missing.
func (a *alert) version() (time.Time, bool) {
	var ts, rt time.Time
	if a.Timestamp != nil {
		ts = a.Timestamp.t
	}
	if a.ResolveTime != nil {
		rt = a.ResolveTime.t
	}
	open := a.ResolutionStatusValue != nil && *a.ResolutionStatusValue == 0
	switch {
	case a.closed() && rt.IsZero():
		return time.Time{}, false
	case !open && !rt.IsZero():
		if rt.Before(ts) {
			return ts, true
		}
		return rt, true
	}
	return ts, !ts.IsZero()
}

// entity is an item of entities[]: its id is a string or, for services, a number.
type entity struct {
	Type       string     `json:"type"`
	ID         flexID     `json:"id"`
	Label      nullString `json:"label"`
	PA         nullString `json:"pa"` // principal (UPN) of an account
	EM         nullString `json:"em"`
	PolicyType nullString `json:"policyType"`
}

// millis is epoch milliseconds, as a JSON number.
type millis struct{ t time.Time }

func (m *millis) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want epoch milliseconds: %w", err)
	}
	ms, err := n.Int64()
	if err != nil {
		return fmt.Errorf("want epoch milliseconds: %w", err)
	}
	m.t = time.UnixMilli(ms).UTC()
	if y := m.t.Year(); y < 1 || y > 9999 {
		// RFC 3339 (and so the envelope) cannot write it: the alert is a dead letter.
		return fmt.Errorf("epoch milliseconds %d are outside the years 1–9999", ms)
	}
	return nil
}

// flexTime is resolveTime: an RFC 3339 string; null or "null" is absent.
type flexTime struct{ t time.Time }

func (f *flexTime) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a time string: %w", err)
	}
	if s == nil || *s == "" || *s == "null" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return err
	}
	f.t = t.UTC()
	return nil
}

// nullString is a string where null and "null" mean absent.
type nullString struct{ s string }

func (n *nullString) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s != nil && *s != "null" {
		n.s = *s
	}
	return nil
}

// flexID is an entity id: a string, or a number (service ids such as 11161).
type flexID struct{ s string }

func (f *flexID) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &f.s)
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("entity id: want a string or a number: %w", err)
	}
	if i, err := n.Int64(); err == nil {
		f.s = strconv.FormatInt(i, 10)
	} else {
		f.s = n.String()
	}
	return nil
}
