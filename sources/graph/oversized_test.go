package graph

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/page"
	"github.com/alertexport/alertexport/sources/page/pagetest"
	"github.com/alertexport/alertexport/sources/sourcetest"
)

// serveOwn is a source whose API answers with the generated body (pagetest.Handler), and
// the count of its requests.
func serveOwn(t *testing.T, f *fixture, body func() []pagetest.Part) (*Source, *atomic.Int32) {
	var n atomic.Int32
	return f.hostile(t, pagetest.Handler(body, &n), Options{}), &n
}

// TestOversizedItemIsDeadLetter: an alert over the cap on one alert, between two others, is
// dead-lettered as too large under its version's message ID; the others are exported, and the
// next poll's re-read hands nothing over twice.
func TestOversizedItemIsDeadLetter(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{})
	at := f.Clock.Now().Add(-time.Minute).UTC()
	stamp := at.Format(time.RFC3339Nano)
	src, _ := serveOwn(t, f, func() []pagetest.Part {
		return []pagetest.Part{
			pagetest.Text(`{"value":[{"id":"g_a","lastUpdateDateTime":"` + stamp + `"},` +
				`{"id":"g_big","lastUpdateDateTime":"` + stamp + `","evidence":[{"@odata.type":"#microsoft.graph.security.fileEvidence","detectionStatus":"`),
			pagetest.Fill('x', 4*page.MaxItem),
			pagetest.Text(`"}]},{"id":"g_c","lastUpdateDateTime":"` + stamp + `"}]}`),
		}
	})
	e := sourcetest.NewExporter(t, src)
	e.MustPoll(t)
	e.MustPoll(t)
	if !e.Has(Name, "g_a", at) || !e.Has(Name, "g_c", at) || len(e.Envs) != 2 {
		t.Errorf("exported %v, want g_a and g_c", e.Got)
	}
	if len(e.Dead) != 1 || !errors.Is(e.Dead[0].Err, page.ErrTooLarge) || e.Dead[0].MsgID != envelope.MsgID("contoso", Name, "g_big", at) ||
		!bytes.HasPrefix(e.Dead[0].Raw, []byte(`{"id":"g_big"`)) {
		t.Fatalf("dead letters %+v, want g_big's version, too large", e.Dead)
	}
	if dup := e.Duplicates(); len(dup) > 0 {
		t.Errorf("handed over twice: %v", dup)
	}
}

// TestOversizedNextLink: a nextLink over the cap on the fields beside the alerts fails the
// poll with a message that names it, at once (not retried: the same request brings the same
// answer), rather than end the pass as if there were no next page.
func TestOversizedNextLink(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{})
	src, requests := serveOwn(t, f, func() []pagetest.Part {
		return []pagetest.Part{pagetest.Text(`{"value":[],"@odata.nextLink":"https://`), pagetest.Fill('n', 64<<20), pagetest.Text(`"}`)}
	})
	err := src.Poll(context.Background(), sources.Checkpoint{}, func(context.Context, sources.Batch) error { return nil })
	var fe *page.FieldTooLargeError
	if !errors.As(err, &fe) || fe.Field != "@odata.nextLink" || !strings.Contains(err.Error(), `"@odata.nextLink" is too large`) {
		t.Fatalf("poll = %v, want the nextLink too large", err)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}
