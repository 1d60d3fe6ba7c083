package cloudapps

import (
	"bytes"
	"context"
	"errors"
	"strconv"
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

// serveOwn is a source whose API answers with the generated body (sourcetest.Generated), and
// the count of its requests.
func serveOwn(t *testing.T, f *fixture, body func() []pagetest.Part) (*Source, *atomic.Int32) {
	var n atomic.Int32
	return f.hostile(t, sourcetest.Generated(body, &n), Options{}), &n
}

// TestOversizedItemIsDeadLetter: an alert over the cap on one alert, between two others, is
// dead-lettered as too large with its first bytes; the others are exported. Its dead letter has
// one message ID however often it is read (both questions, both polls), so JetStream keeps one.
func TestOversizedItemIsDeadLetter(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{})
	at := f.Clock.Now().Add(-time.Minute).Truncate(time.Millisecond).UTC()
	ms := strconv.FormatInt(at.UnixMilli(), 10)
	src, _ := serveOwn(t, f, func() []pagetest.Part {
		return []pagetest.Part{
			pagetest.Text(`{"data":[{"_id":"ca_a","timestamp":` + ms + `,"resolutionStatusValue":0},` +
				`{"_id":"ca_big","timestamp":` + ms + `,"resolutionStatusValue":0,"description":"`),
			pagetest.Fill('x', 4*page.MaxItem),
			pagetest.Text(`"},{"_id":"ca_c","timestamp":` + ms + `,"resolutionStatusValue":0}],"hasNext":false,"total":3}`),
		}
	})
	e := sourcetest.NewExporter(t, src)
	e.MustPoll(t)
	e.MustPoll(t)
	if e.Got[envelope.MsgID("contoso", Name, "ca_a", at)] != 1 || e.Got[envelope.MsgID("contoso", Name, "ca_c", at)] != 1 || len(e.Envs) != 2 {
		t.Errorf("exported %v, want ca_a and ca_c once", e.Got)
	}
	ids := map[string]bool{}
	for _, d := range e.Dead {
		ids[d.MsgID] = true
		if !errors.Is(d.Err, page.ErrTooLarge) || len(d.Raw) != page.TooLargePrefix || !bytes.HasPrefix(d.Raw, []byte(`{"_id":"ca_big"`)) {
			t.Errorf("dead letter %s: %v, %d bytes", d.MsgID, d.Err, len(d.Raw))
		}
	}
	if len(ids) != 1 {
		t.Errorf("dead letters under %d message IDs, want 1: %v", len(ids), ids)
	}
}

// TestOversizedHasNext: a hasNext over the cap on the fields beside the alerts fails the poll
// with a message that names it, at once, rather than take the page for the last.
func TestOversizedHasNext(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{})
	src, requests := serveOwn(t, f, func() []pagetest.Part {
		return []pagetest.Part{pagetest.Text(`{"data":[],"hasNext":"`), pagetest.Fill('t', 64<<20), pagetest.Text(`"}`)}
	})
	err := src.Poll(context.Background(), sources.Checkpoint{}, func(context.Context, sources.Batch) error { return nil })
	var fe *page.FieldTooLargeError
	if !errors.As(err, &fe) || fe.Field != "hasNext" || !strings.Contains(err.Error(), `"hasNext" is too large`) {
		t.Fatalf("poll = %v, want hasNext too large", err)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}
