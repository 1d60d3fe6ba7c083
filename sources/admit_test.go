package sources

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alertexport/alertexport/sources/envelope"
)

// admitRules are the simplest rules a source can have: dedup by the checkpoint and the strays,
// a cursor bounded by limit, everything in Seen or among the strays.
type admitRules struct {
	a     *Admit
	limit time.Time
}

func (r admitRules) Skip(id string, t time.Time) bool { return r.a.Known(id, t) }
func (r admitRules) Held(t time.Time) string          { return Held(t, r.limit, false) }
func (r admitRules) Remember(id string, t time.Time, held string) error {
	return r.a.Keep(id, t, held, r.limit)
}

// admitNormalize builds a minimal envelope for alert id with the event Admit decided, or fails
// when fail is set.
func admitNormalize(id string, t time.Time, fail error) Normalize {
	return func(event string) (envelope.Envelope, error) {
		if fail != nil {
			return nil, fail
		}
		return &envelope.Alert{Schema: envelope.Schema, ID: id, Source: "endpoint", Tenant: "contoso", Event: event,
			Severity: envelope.SeverityHigh, Status: envelope.StatusNew, UpdatedAt: t,
			MitreTechniques: []string{}, MitreTactics: []string{}, Raw: json.RawMessage(`{}`)}, nil
	}
}

// TestAdmit: each version a source hands over is exported once, under its message ID, as a
// created or updated alert or as a dead letter, or left out (seen, min_severity); Late and
// HeldBack are told of what they watch.
func TestAdmit(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	t1, t2 := now.Add(-2*time.Hour), now.Add(-time.Hour)
	future := now.Add(time.Hour)
	errItem := errors.New("severity: not a string")
	errNorm := errors.New("the envelope cannot be built")

	// in is one version handed over: fail makes its normalize fail.
	type in struct {
		v    Version
		fail error
	}
	// out is one message queued: its ID, and its event or, for a dead letter, its error.
	type out struct{ id, event, err string }
	dead := func(raw string, cause error) string { return DeadLetterID("contoso", "endpoint", []byte(raw), cause) }
	noVersion := NoVersion("id or no lastUpdateTime")

	cases := []struct {
		name     string
		seen     Seen // the checkpoint's
		below    []string
		batch    int
		in       []in
		want     []out
		late     []time.Duration
		heldBack []string
		emits    int // batches handed to Emit during the admits
	}{
		{
			name: "a new alert is created, its next version updated",
			in:   []in{{v: Version{ID: "a", Time: t1, Dated: true}}, {v: Version{ID: "a", Time: t2, Dated: true}}},
			want: []out{{id: envelope.MsgID("contoso", "endpoint", "a", t1), event: envelope.Created},
				{id: envelope.MsgID("contoso", "endpoint", "a", t2), event: envelope.Updated}},
		},
		{
			name: "a version read twice is exported once",
			in:   []in{{v: Version{ID: "a", Time: t1, Dated: true}}, {v: Version{ID: "a", Time: t1, Dated: true}}},
			want: []out{{id: envelope.MsgID("contoso", "endpoint", "a", t1), event: envelope.Created}},
		},
		{
			name: "a version in the checkpoint is left out; the alert's next one is an update",
			seen: Seen{SeenKey("a"): {Nanos(t1)}},
			in:   []in{{v: Version{ID: "a", Time: t1, Dated: true}}, {v: Version{ID: "a", Time: t2, Dated: true}}},
			want: []out{{id: envelope.MsgID("contoso", "endpoint", "a", t2), event: envelope.Updated}},
		},
		{
			name: "an alert created before what the poll reads is an update",
			in:   []in{{v: Version{ID: "a", Time: t1, Dated: true, Preexisting: true}}},
			want: []out{{id: envelope.MsgID("contoso", "endpoint", "a", t1), event: envelope.Updated}},
		},
		{
			name:  "min_severity leaves out what ranks below it, whatever its case",
			below: []string{"informational", "low"},
			in: []in{{v: Version{ID: "a", Time: t1, Dated: true, Severity: "Low"}},
				{v: Version{ID: "b", Time: t1, Dated: true, Severity: "High"}},
				{v: Version{ID: "c", Time: t1, Dated: true}}}, // no severity: not ranked, kept
			want: []out{{id: envelope.MsgID("contoso", "endpoint", "b", t1), event: envelope.Created},
				{id: envelope.MsgID("contoso", "endpoint", "c", t1), event: envelope.Created}},
		},
		{
			name: "an alert that cannot be normalized is a dead letter under its version's ID",
			in:   []in{{v: Version{ID: "a", Time: t1, Dated: true}, fail: errNorm}, {v: Version{ID: "a", Time: t1, Dated: true}}},
			want: []out{{id: envelope.MsgID("contoso", "endpoint", "a", t1), err: errNorm.Error()}},
		},
		{
			name: "an alert not decoded but versioned is a dead letter of that version, and counts as exported",
			in: []in{{v: Version{ID: "a", Time: t1, Dated: true, Err: errItem, Raw: []byte(`{"id":"a"}`)}},
				{v: Version{ID: "a", Time: t2, Dated: true}}},
			want: []out{{id: envelope.MsgID("contoso", "endpoint", "a", t1), err: errItem.Error()},
				{id: envelope.MsgID("contoso", "endpoint", "a", t2), event: envelope.Updated}},
		},
		{
			name: "an alert without a version is a dead letter under an ID of its bytes, once",
			in: []in{{v: Version{Raw: []byte(`{"title":"no id"}`)}}, {v: Version{Raw: []byte(`{"title":"no id"}`)}},
				{v: Version{Raw: []byte(`"not an alert"`), Err: errItem}}},
			want: []out{{id: dead(`{"title":"no id"}`, noVersion), err: noVersion.Error()},
				{id: dead(`"not an alert"`, errItem), err: errItem.Error()}},
		},
		{
			name:     "a version dated past the API's clock is exported and held back, never late",
			in:       []in{{v: Version{ID: "a", Time: future, Dated: true, Cursor: now.Add(2 * time.Hour)}}},
			want:     []out{{id: envelope.MsgID("contoso", "endpoint", "a", future), event: envelope.Created}},
			heldBack: []string{HeldFuture},
		},
		{
			name: "a version behind the cursor the poll began from is late by that much",
			in: []in{{v: Version{ID: "a", Time: t1, Dated: true, Cursor: t2}},
				{v: Version{ID: "b", Time: t2, Dated: true, Cursor: t2}}},
			want: []out{{id: envelope.MsgID("contoso", "endpoint", "a", t1), event: envelope.Created},
				{id: envelope.MsgID("contoso", "endpoint", "b", t2), event: envelope.Created}},
			late: []time.Duration{time.Hour},
		},
		{
			name:  "a full batch is handed over at once",
			batch: 2,
			in: []in{{v: Version{ID: "a", Time: t1, Dated: true}}, {v: Version{ID: "b", Time: t1, Dated: true}},
				{v: Version{ID: "c", Time: t1, Dated: true}}},
			want: []out{{id: envelope.MsgID("contoso", "endpoint", "a", t1), event: envelope.Created},
				{id: envelope.MsgID("contoso", "endpoint", "b", t1), event: envelope.Created},
				{id: envelope.MsgID("contoso", "endpoint", "c", t1), event: envelope.Created}},
			emits: 1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var got []out
			var late []time.Duration
			var heldBack []string
			emits := 0
			collect := func(ms []Message) {
				for _, m := range ms {
					o := out{id: m.MsgID}
					if m.Err != nil {
						o.err = m.Err.Error()
					} else {
						o.event = m.Alert.Event
					}
					got = append(got, o)
				}
			}
			cp := Checkpoint{Seen: c.seen}.Clone()
			a := &Admit{
				Outbox: Outbox{Emit: func(_ context.Context, b Batch) error {
					emits++
					collect(b.Messages)
					return nil
				}},
				Tenant: "contoso", Source: "endpoint", State: &cp, Strays: NewStraySet(nil), Exported: NewIDSet(),
				Below: c.below, Batch: c.batch, NoVersion: noVersion,
				Options: Options{Late: func(d time.Duration) { late = append(late, d) }, HeldBack: func(r string) { heldBack = append(heldBack, r) }},
			}
			r := admitRules{a: a, limit: now.Add(Ahead)}
			for _, x := range c.in {
				var norm Normalize
				if x.v.Dated && x.v.Err == nil {
					norm = admitNormalize(x.v.ID, x.v.Time, x.fail)
				}
				if err := a.Take(context.Background(), r, x.v, norm); err != nil {
					t.Fatalf("Take(%+v): %v", x.v, err)
				}
			}
			if emits != c.emits {
				t.Errorf("%d batches handed over while admitting, want %d", emits, c.emits)
			}
			collect(a.Pending)
			if !slices.Equal(got, c.want) {
				t.Errorf("queued\n%v\nwant\n%v", got, c.want)
			}
			if !slices.Equal(late, c.late) {
				t.Errorf("Late told %v, want %v", late, c.late)
			}
			if !slices.Equal(heldBack, c.heldBack) {
				t.Errorf("HeldBack told %v, want %v", heldBack, c.heldBack)
			}
		})
	}
}

// TestNoVersion: a source's words for what its alerts lack, recognized as ErrNoVersion.
func TestNoVersion(t *testing.T) {
	t.Parallel()
	err := NoVersion("id or no lastUpdateTime")
	if got, want := err.Error(), "the alert has no id or no lastUpdateTime"; got != want {
		t.Errorf("NoVersion says %q, want %q", got, want)
	}
	if !errors.Is(err, ErrNoVersion) || !strings.HasPrefix(ErrNoVersion.Error(), "the alert has no") {
		t.Errorf("NoVersion %v is not ErrNoVersion", err)
	}
}

// TestAdmitTooManyStrays: past MaxStrays, Take fails with ErrTooManyStrays and queues nothing
// more, so that the poll stops with its checkpoint unchanged.
func TestAdmitTooManyStrays(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	cp := Checkpoint{}.Clone()
	a := &Admit{Tenant: "contoso", Source: "endpoint", State: &cp, Strays: NewStraySet(nil), Exported: NewIDSet()}
	r := admitRules{a: a, limit: now}
	future := now.Add(time.Hour)
	for i := range MaxStrays {
		if err := a.Take(context.Background(), r, Version{ID: strconv.Itoa(i), Time: future, Dated: true},
			admitNormalize("a", future, nil)); err != nil {
			t.Fatalf("stray %d: %v", i, err)
		}
	}
	err := a.Take(context.Background(), r, Version{ID: "last", Time: future, Dated: true}, admitNormalize("last", future, nil))
	if !errors.Is(err, ErrTooManyStrays) {
		t.Fatalf("past MaxStrays Take says %v, want ErrTooManyStrays", err)
	}
	if n := len(a.Pending); n != MaxStrays {
		t.Errorf("%d messages queued, want %d", n, MaxStrays)
	}
}
