package sinks

import (
	"slices"
	"strings"
	"testing"
	"time"

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
		Alert: &envelope.Alert{Schema: envelope.Schema, ID: id, Source: "endpoint", Tenant: "contoso", Severity: "low", Event: "created", Raw: []byte(`{"id":"da1_2","x":"<&>"}`)}})
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
	dead, err := NewMsg(s, &sources.Message{MsgID: "contoso.endpoint.deadletter.ab", Tenant: "contoso", Source: "endpoint", Raw: []byte(`{"id":`), Err: errTest})
	if err != nil {
		t.Fatal(err)
	}
	if dead.Subject != "alerts.deadletter.endpoint.contoso" || string(dead.Data) != `{"id":` || dead.Header.Get("Alert-Error") != errTest.Error() {
		t.Errorf("dead letter: %s %q %v", dead.Subject, dead.Data, dead.Header)
	}
	if _, err := NewMsg(s, &sources.Message{}); err == nil {
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
		Alert: &envelope.Alert{ID: "x", Source: "cloudapps", Tenant: "contoso", UpdatedAt: far, Raw: []byte(`{"_id":"x"}`)}})
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "alerts.deadletter.cloudapps.contoso" || string(msg.Data) != `{"_id":"x"}` || msg.Header.Get("Alert-Error") == "" {
		t.Errorf("got %s %q %v", msg.Subject, msg.Data, msg.Header)
	}
}
