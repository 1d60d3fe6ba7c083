package endpoint

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/page"
	"github.com/alertexport/alertexport/sources/page/pagetest"
	"github.com/alertexport/alertexport/sources/sourcetest"
)

// serveOwn is a source whose API answers with the generated body (pagetest.Handler).
func serveOwn(t *testing.T, f *fixture, body func() []pagetest.Part, o Options) *Source {
	return f.hostile(t, pagetest.Handler(body, nil), o)
}

// TestOversizedItemIsDeadLetter: a 256 MiB alert between two others, over HTTPS from the
// simulator, is dead-lettered as too large under its version's message ID, with its first
// bytes, without the poll holding it; the alerts around it are exported, and the next poll's
// re-read of the overlap hands nothing over twice.
func TestOversizedItemIsDeadLetter(t *testing.T) {
	f := newFixture(t, setup{})
	at := f.Clock.Now().Add(-time.Minute).UTC()
	stamp := at.Format(time.RFC3339Nano)
	const size = 256 << 20
	src := serveOwn(t, f, func() []pagetest.Part {
		return []pagetest.Part{
			pagetest.Text(`{"@odata.context":"x","value":[{"id":"da_a","lastUpdateTime":"` + stamp + `"},` +
				`{"id":"da_big","lastUpdateTime":"` + stamp + `","title":"big","evidence":[{"entityType":"File","fileName":"`),
			pagetest.Fill('x', size),
			pagetest.Text(`"}]},{"id":"da_c","lastUpdateTime":"` + stamp + `"}]}`),
		}
	}, Options{})
	e := sourcetest.NewExporter(t, src)
	// The live heap, not what was allocated: under the race detector sync.Pool drops buffers,
	// and the HTTP stack allocates anew what it would reuse.
	peak := peakHeapGrowth(func() { e.MustPoll(t) })
	e.MustPoll(t) // the overlap again
	if !e.Has(Name, "da_a", at) || !e.Has(Name, "da_c", at) || len(e.Envs) != 2 {
		t.Errorf("exported %v, want da_a and da_c", e.Got)
	}
	if len(e.Dead) != 1 {
		t.Fatalf("%d dead letters, want 1", len(e.Dead))
	}
	d := e.Dead[0]
	var big *page.TooLargeError
	if !errors.As(d.Err, &big) || big.Size < size || !strings.HasPrefix(d.Err.Error(), "too large") {
		t.Errorf("dead letter error %v, want too large", d.Err)
	}
	if d.MsgID != msgID("da_big", at) || len(d.Raw) != page.TooLargePrefix || !bytes.HasPrefix(d.Raw, []byte(`{"id":"da_big"`)) {
		t.Errorf("dead letter %s with %d bytes, want the version's ID and the first %d bytes", d.MsgID, len(d.Raw), page.TooLargePrefix)
	}
	if dup := e.Duplicates(); len(dup) > 0 {
		t.Errorf("handed over twice: %v", dup)
	}
	if peak > size/8 {
		t.Errorf("the live heap grew by %d MiB in a poll that streamed a %d MiB alert", peak>>20, size>>20)
	}
	t.Logf("the live heap grew by %.1f MiB at most in a poll that streamed %d MiB", float64(peak)/(1<<20), size>>20)
}

// TestOversizedPageBodySplitsTheWindow: answers over the cap on a page's body are cut off, and
// their windows cut smaller by what was read, as full ones are, until each fits: every alert
// is exported once, with a warning that says why the windows were cut, and the pieces are cut
// to what fits.
func TestOversizedPageBodySplitsTheWindow(t *testing.T) {
	t.Parallel()
	f := newFixture(t, setup{})
	now := f.Clock.Now()
	f.ep.Generate(400, sim.EndpointGenerate{From: now.Add(-time.Hour), To: now})
	var log bytes.Buffer
	api := f.API(Name, f.Tenant.Source(Name))
	api.MaxBody = 200 << 10
	src := New(f.Tenant.Settings(f.Tenant.Source(Name)), api, Options{Now: f.Clock.Now, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	e := sourcetest.NewExporter(t, src)
	e.MustPoll(t)
	checkExactlyOnce(t, f, e)
	if !strings.Contains(log.String(), "over the cap on one page's body") {
		t.Errorf("no warning of the cut answers: %s", log.String())
	}
	// The pieces are cut to hold what fitted in a cut answer, not a page: 13–22 requests here;
	// cut for a page's worth, each piece's answer was cut again (65).
	if n := len(f.Requests("endpoint")); n > 40 {
		t.Errorf("%d requests for 400 alerts, about 65 of which fit in an answer", n)
	}
}

// TestOversizedPageBodyWithSkip: a window paged with $skip (an instant that holds more than a
// page) whose answer is over the cap fails the poll, naming the cap, rather than skip the part
// never read.
func TestOversizedPageBodyWithSkip(t *testing.T) {
	t.Parallel()
	f := newFixture(t, setup{})
	api := f.API(Name, f.Tenant.Source(Name))
	api.MaxBody = 64 << 10
	f.ep.Generate(100, sim.EndpointGenerate{})
	p := New(f.Tenant.Settings(f.Tenant.Source(Name)), api, Options{Now: f.Clock.Now}).newPoll(sources.Checkpoint{}, func(context.Context, sources.Batch) error { return nil })
	err := p.fetchBySkip(context.Background(), window{upd: span{lo: f.Clock.Now().Add(-48 * time.Hour)}, skip: true})
	if err == nil || !strings.Contains(err.Error(), "the cap on one page's body") {
		t.Fatalf("err = %v, want the body over its cap", err)
	}
}
