package sources

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/alertexport/alertexport/sources/envelope"
)

// TestQueueListsAtMostMaxEntities: an envelope lists the first envelope.MaxEntities entities
// of an alert that has more, raw untouched, and the operator is told which alert was cut and
// by how much; an alert at the cap is listed whole, without a word.
func TestQueueListsAtMostMaxEntities(t *testing.T) {
	cases := []struct {
		name     string
		entities int
		warned   bool
	}{
		{"an ordinary alert", 12, false},
		{"exactly the cap", envelope.MaxEntities, false},
		{"one past the cap", envelope.MaxEntities + 1, true},
		{"twenty thousand", 20000, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			o := Outbox{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
			a := &envelope.Alert{Schema: envelope.Schema, ID: "da1", Source: "endpoint", Tenant: "contoso", Event: envelope.Created,
				Severity: envelope.SeverityHigh, Status: envelope.StatusNew, UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
				MitreTechniques: []string{}, MitreTactics: []string{}, Raw: json.RawMessage(`{"id":"da1","evidence":"all of it"}`)}
			for i := range c.entities {
				a.Entities = append(a.Entities, envelope.Entity{Type: "ip", Address: "10.0.0." + strconv.Itoa(i)})
			}
			o.Queue(Message{MsgID: "m", Tenant: "contoso", Source: "endpoint", Alert: a})

			if len(o.Pending) != 1 || o.Pending[0].Body == nil {
				t.Fatalf("pending %+v: want one message with a body", o.Pending)
			}
			var env struct {
				Entities []envelope.Entity
				Raw      json.RawMessage
			}
			if err := json.Unmarshal(o.Pending[0].Body, &env); err != nil {
				t.Fatal(err)
			}
			want := min(c.entities, envelope.MaxEntities)
			if len(env.Entities) != want {
				t.Fatalf("the envelope lists %d entities, want %d", len(env.Entities), want)
			}
			for i, e := range env.Entities {
				if e.Address != "10.0.0."+strconv.Itoa(i) {
					t.Fatalf("entity %d is %s: the first ones must be kept, in order", i, e.Address)
				}
			}
			if string(env.Raw) != `{"id":"da1","evidence":"all of it"}` {
				t.Errorf("raw = %s, want it as received", env.Raw)
			}

			if !c.warned {
				if logs.Len() != 0 {
					t.Errorf("logged %s for an alert within the cap", logs.String())
				}
				return
			}
			var line struct {
				Level, Msg, Tenant, Source, Alert string
				Entities, Listed                  int
			}
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("want one warning, logged %q: %v", logs.String(), err)
			}
			if line.Level != "WARN" || line.Tenant != "contoso" || line.Source != "endpoint" || line.Alert != "da1" ||
				line.Entities != c.entities || line.Listed != envelope.MaxEntities {
				t.Errorf("logged %s; want a warning naming tenant, source and alert, with %d entities and %d listed", logs.String(), c.entities, envelope.MaxEntities)
			}
		})
	}
}

// TestQueueCopiesADeadLettersBytes: a source may hand over bytes valid only while it takes the
// alert (page.Borrow); a dead letter keeps its own copy, an envelope its body.
func TestQueueCopiesADeadLettersBytes(t *testing.T) {
	buf := []byte(`{"id":"da1","lastUpdateTime":"not a time"}`)
	want := string(buf)
	var o Outbox
	o.Queue(Message{MsgID: "m", Tenant: "contoso", Source: "endpoint", Raw: buf, Err: errors.New("cannot normalize")})
	a := &envelope.Alert{Schema: envelope.Schema, ID: "da2", Source: "endpoint", Tenant: "contoso", Event: envelope.Created,
		Severity: envelope.SeverityHigh, Status: envelope.StatusNew, UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		MitreTechniques: []string{}, MitreTactics: []string{}, Entities: []envelope.Entity{}, Raw: json.RawMessage(buf)}
	o.Queue(Message{MsgID: "n", Tenant: "contoso", Source: "endpoint", Alert: a})
	for i := range buf { // the decoder reads the next alert into its buffer
		buf[i] = 'x'
	}
	if got := string(o.Pending[0].Raw); got != want {
		t.Errorf("the dead letter's bytes changed with the buffer: %s", got)
	}
	if !bytes.Contains(o.Pending[1].Body, []byte(want)) || o.Pending[1].Alert.Raw != nil {
		t.Errorf("the envelope's body %s, summary raw %s", o.Pending[1].Body, o.Pending[1].Alert.Raw)
	}
}
