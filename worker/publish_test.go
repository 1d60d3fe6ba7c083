package worker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/envelope"
)

// TestPublisherCounts: one batch's outcome, sorted per message — new, already in the stream,
// dead letter — with the newest alert time, and the same counts in the job's metrics when the
// Publisher has them (backfill's has none).
func TestPublisherCounts(t *testing.T) {
	t.Parallel()
	sink, _, _ := setupJS(t)
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	alert := func(id string, at time.Time) sources.Message {
		return sources.Message{MsgID: envelope.MsgID("contoso", "endpoint", id, at), Tenant: "contoso", Source: "endpoint",
			Alert: &envelope.Alert{Schema: envelope.Schema, ID: id, Source: "endpoint", Tenant: "contoso", Event: "created",
				Severity: "high", Status: "new", UpdatedAt: at, Raw: []byte(`{}`)}}
	}
	dead := sources.Message{MsgID: "contoso.endpoint.dead", Tenant: "contoso", Source: "endpoint", Raw: []byte(`{"id":`), Err: errors.New("unexpected end of JSON input")}
	batch := []sources.Message{alert("da1_1", at), alert("da2_1", at.Add(time.Minute)), dead}

	m := NewMetrics()
	pub := Publisher{Sink: sink, Tenant: "contoso", Source: "endpoint", Metrics: m}
	ctx := context.Background()
	got, err := pub.Publish(ctx, batch)
	if want := (Outcome{Published: 2, DeadLetters: 1, Newest: at.Add(time.Minute)}); err != nil || got != want {
		t.Errorf("first publish = %+v, %v; want %+v", got, err, want)
	}
	got, err = Publisher{Sink: sink, Tenant: "contoso", Source: "endpoint"}.Publish(ctx, batch[:2])
	if want := (Outcome{Duplicates: 2, Newest: at.Add(time.Minute)}); err != nil || got != want {
		t.Errorf("again, without metrics = %+v, %v; want %+v", got, err, want)
	}
	if n := testutil.ToFloat64(m.deadLetters.WithLabelValues("contoso", "endpoint")); n != 1 {
		t.Errorf("dead letters counted %v, want 1", n)
	}
	if n := testutil.ToFloat64(m.duplicates.WithLabelValues("contoso", "endpoint")); n != 0 {
		t.Errorf("duplicates counted %v in a Publisher's metrics it was not given, want 0", n)
	}
	if got, err := pub.Publish(ctx, nil); err != nil || got != (Outcome{}) {
		t.Errorf("an empty batch = %+v, %v", got, err)
	}
}
