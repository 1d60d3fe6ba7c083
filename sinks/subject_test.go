package sinks

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/envelope"
)

func TestSubjects(t *testing.T) {
	cat := "Command And Control"
	a := &envelope.Alert{Source: "endpoint", Tenant: "contoso-eu", Severity: "high", Event: "updated", Category: &cat}
	for _, c := range []struct {
		template, subject, dead string
		stream                  []string
	}{
		{"alerts.{source}.{tenant}.{severity}", "alerts.endpoint.contoso-eu.high", "alerts.deadletter.endpoint.contoso-eu", []string{"alerts.*.*.*"}},
		{"alerts.{severity}", "alerts.high", "alerts.deadletter.endpoint.contoso-eu", []string{"alerts.*", "alerts.deadletter.*.*"}},
		{"soc.{tenant}.{category}.{event}.x", "soc.contoso-eu.command_and_control.updated.x", "soc.deadletter.endpoint.contoso-eu", []string{"soc.*.*.*.x", "soc.deadletter.*.*"}},
		{"a.sev-{severity}.{source}.{tenant}", "a.sev-high.endpoint.contoso-eu", "a.deadletter.endpoint.contoso-eu", []string{"a.*.*.*"}},
		{"alerts", "alerts", "alerts.deadletter.endpoint.contoso-eu", []string{"alerts", "alerts.deadletter.*.*"}},
		{"a.{source}-{tenant}_{event}", "a.endpoint-contoso-eu_updated", "a.deadletter.endpoint.contoso-eu", []string{"a.*", "a.deadletter.*.*"}},
		{"a.{x{severity}}", "a.{xhigh}", "a.deadletter.endpoint.contoso-eu", []string{"a.*", "a.deadletter.*.*"}},
	} {
		s := NewSubjects(c.template)
		if got := s.Render(a); got != c.subject {
			t.Errorf("%s: Render = %q, want %q", c.template, got, c.subject)
		}
		if got := s.DeadLetter("endpoint", "contoso-eu"); got != c.dead {
			t.Errorf("%s: DeadLetter = %q, want %q", c.template, got, c.dead)
		}
		if got := s.Stream(); !slices.Equal(got, c.stream) {
			t.Errorf("%s: Stream = %q, want %q", c.template, got, c.stream)
		}
	}
	// A missing category renders as "_", never an empty token.
	if got := NewSubjects("alerts.{category}").Render(&envelope.Alert{}); got != "alerts._" {
		t.Errorf("empty category: %q", got)
	}
}

func TestNewMsg(t *testing.T) {
	s := NewSubjects("alerts.{source}.{tenant}.{severity}")
	id := "da1_2"
	msg, err := NewMsg(s, &sources.Message{MsgID: "contoso.endpoint.da1_2.1000", Tenant: "contoso", Source: "endpoint",
		Alert: &envelope.Alert{Schema: envelope.Schema, ID: id, Source: "endpoint", Tenant: "contoso", Severity: "low", Event: "created", Raw: []byte(`{"id":"da1_2","x":"<&>"}`)}}, Limit{})
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "alerts.endpoint.contoso.low" {
		t.Errorf("subject %q", msg.Subject)
	}
	for k, v := range map[string]string{"Nats-Msg-Id": "contoso.endpoint.da1_2.1000", "Content-Type": "application/json",
		"Alert-Id": id, "Alert-Source": "endpoint", "Alert-Tenant": "contoso", "Alert-Severity": "low", "Alert-Event": "created"} {
		if got := msg.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if !containsBytes(msg.Data, `"raw":{"id":"da1_2","x":"<&>"}`) {
		t.Errorf("body does not carry raw unchanged: %s", msg.Data)
	}
	dead, err := NewMsg(s, &sources.Message{MsgID: "contoso.endpoint.deadletter.ab", Tenant: "contoso", Source: "endpoint", Raw: []byte(`{"id":`), Err: errTest}, Limit{})
	if err != nil {
		t.Fatal(err)
	}
	if dead.Subject != "alerts.deadletter.endpoint.contoso" || string(dead.Data) != `{"id":` || dead.Header.Get("Alert-Error") != errTest.Error() {
		t.Errorf("dead letter: %s %q %v", dead.Subject, dead.Data, dead.Header)
	}
	if _, err := NewMsg(s, &sources.Message{}, Limit{}); err == nil {
		t.Error("a message without an ID was accepted")
	}
}

var errTest = testError("the alert has no id or no lastUpdateTime")

type testError string

func (e testError) Error() string { return string(e) }

func containsBytes(b []byte, s string) bool { return strings.Contains(string(b), s) }

// TestNewMsgUnwritableEnvelope: an envelope JSON cannot write goes out as a dead letter instead
// of failing the batch.
func TestNewMsgUnwritableEnvelope(t *testing.T) {
	s := NewSubjects("alerts.{source}.{tenant}.{severity}")
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	msg, err := NewMsg(s, &sources.Message{MsgID: "contoso.cloudapps.x.1", Tenant: "contoso", Source: "cloudapps",
		Alert: &envelope.Alert{ID: "x", Source: "cloudapps", Tenant: "contoso", UpdatedAt: far, Raw: []byte(`{"_id":"x"}`)}}, Limit{})
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "alerts.deadletter.cloudapps.contoso" || string(msg.Data) != `{"_id":"x"}` || msg.Header.Get("Alert-Error") == "" {
		t.Errorf("got %s %q %v", msg.Subject, msg.Data, msg.Header)
	}
}

// TestRenderBoundsTokens: every rendered token is at most 64 characters: a long placeholder
// value is shortened by envelope.Token, and a token of several placeholders (each within the
// bound, together over it) is shortened as a whole; the same alert always renders the same.
func TestRenderBoundsTokens(t *testing.T) {
	long := strings.Repeat("Exfiltration ", 400)
	other := long[:len(long)-1] + "X"
	for _, tmpl := range []string{"alerts.{category}", "alerts.{category}-{tenant}", "alerts.x{category}{category}.{severity}"} {
		s := NewSubjects(tmpl)
		a := &envelope.Alert{Tenant: "contoso", Severity: "high", Category: &long}
		subj := s.Render(a)
		for tok := range strings.SplitSeq(subj, ".") {
			if len(tok) > envelope.MaxToken || tok == "" {
				t.Errorf("%s: token %q of %d characters", tmpl, tok, len(tok))
			}
		}
		if s.Render(a) != subj {
			t.Errorf("%s: two renderings of one alert", tmpl)
		}
		if s.Render(&envelope.Alert{Tenant: "contoso", Severity: "high", Category: &other}) == subj {
			t.Errorf("%s: two long categories render the same subject %q", tmpl, subj)
		}
	}
	if got, want := NewSubjects("a.{category}").Render(&envelope.Alert{Category: &long}), "a."+envelope.Token(long); got != want {
		t.Errorf("a lone placeholder: %q, want %q", got, want)
	}
}

// TestNewMsgTooLarge: a message over the limit becomes a dead letter within it: same
// Nats-Msg-Id, Alert-Id kept, raw cut (never inside a UTF-8 character) and Alert-Error saying
// how large it was, what the limit is and where the raw was cut.
func TestNewMsgTooLarge(t *testing.T) {
	s := NewSubjects("alerts.{source}.{tenant}.{severity}")
	raw := []byte(`{"id":"da1","t":"` + strings.Repeat("é", 3000) + `"}`)
	m := &sources.Message{MsgID: "contoso.endpoint.da1.1000", Tenant: "contoso", Source: "endpoint",
		Alert: &envelope.Alert{Schema: envelope.Schema, ID: "da1", Source: "endpoint", Tenant: "contoso", Severity: "low", Event: "created", Raw: raw}}
	limit := Limit{Bytes: 2001, By: "the server's max_payload"}
	msg, err := NewMsg(s, m, limit)
	if err != nil {
		t.Fatal(err)
	}
	if Size(msg) > limit.Bytes || Size(msg) < limit.Bytes-8 {
		t.Errorf("the dead letter is %d bytes; want just within %d", Size(msg), limit.Bytes)
	}
	if msg.Subject != "alerts.deadletter.endpoint.contoso" || msg.Header.Get("Nats-Msg-Id") != m.MsgID || msg.Header.Get("Alert-Id") != "da1" {
		t.Errorf("dead letter %s %v", msg.Subject, msg.Header)
	}
	if !utf8.Valid(msg.Data) || !strings.HasPrefix(string(raw), string(msg.Data)) {
		t.Errorf("the body is not a clean prefix of the raw: %q", msg.Data)
	}
	want := fmt.Sprintf("too large: %d bytes, over the server's max_payload of 2001; the raw alert is cut to its first %d of %d bytes", fullSize(t, s, m), len(msg.Data), len(raw))
	if got := msg.Header.Get("Alert-Error"); got != want {
		t.Errorf("Alert-Error\n got %q\nwant %q", got, want)
	}
	// Within the limit, nothing changes.
	if fits, _ := NewMsg(s, m, Limit{Bytes: 1 << 20}); fits.Header.Get("Alert-Error") != "" {
		t.Errorf("a message within the limit became a dead letter: %v", fits.Header)
	}
	// An id that would take most of the room is left out of the dead letter.
	longID := strings.Repeat("i", 600)
	m.Alert.ID = longID
	if msg, err := NewMsg(s, m, limit); err != nil || msg.Header.Get("Alert-Id") != "" || len(msg.Data) < 1000 {
		t.Errorf("long id: %v, %v, %d bytes of raw", err, msg.Header, len(msg.Data))
	}
}

// fullSize is the size of m's message without a limit.
func fullSize(t *testing.T, s *Subjects, m *sources.Message) int {
	t.Helper()
	msg, err := NewMsg(s, m, Limit{})
	if err != nil {
		t.Fatal(err)
	}
	return Size(msg)
}

// TestNewMsgTooLargeByItsHeaders: a raw just under the limit, whose message is over it only by
// its headers, is cut to fit as well — the reason then says "cut", which is longer than the
// "whole" the room was first sized by, and left the dead letter 20–40 bytes over the limit:
// nats.go refused it, and the job stalled on it at every poll.
func TestNewMsgTooLargeByItsHeaders(t *testing.T) {
	s := NewSubjects("alerts.{source}.{tenant}.{severity}")
	const limit = 64 << 10
	for _, n := range []int{limit - 500, limit - 101, limit - 11, limit - 1, limit} {
		raw := []byte(`{"id":"da1","t":"` + strings.Repeat("x", n-len(`{"id":"da1","t":""}`)) + `"}`)
		alert := &sources.Message{MsgID: "contoso.endpoint.da1.1000", Tenant: "contoso", Source: "endpoint",
			Alert: &envelope.Alert{Schema: envelope.Schema, ID: "da1", Source: "endpoint", Tenant: "contoso", Severity: "low", Event: "created", Raw: raw}}
		dead := &sources.Message{MsgID: alert.MsgID, Tenant: "contoso", Source: "endpoint", Raw: raw, Err: errors.New("not normalized")}
		for name, m := range map[string]*sources.Message{"alert": alert, "dead letter": dead} {
			msg, err := NewMsg(s, m, Limit{Bytes: limit, By: "the server's max_payload"})
			if err != nil {
				t.Fatalf("%s with a raw of %d bytes: %v", name, n, err)
			}
			if size := Size(msg); size > limit {
				t.Errorf("%s with a raw of %d bytes: the dead letter is %d bytes, over the limit %d (%q)", name, n, size, limit, msg.Header.Get("Alert-Error"))
			}
			if len(msg.Data) < len(raw) && !strings.Contains(msg.Header.Get("Alert-Error"), fmt.Sprintf("cut to its first %d of %d bytes", len(msg.Data), len(raw))) {
				t.Errorf("%s with a raw of %d bytes: Alert-Error %q does not say how it was cut", name, n, msg.Header.Get("Alert-Error"))
			}
		}
	}
}
