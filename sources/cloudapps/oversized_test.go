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

// serveOwn is a source whose API answers with the generated body (pagetest.Handler), and
// the count of its requests.
func serveOwn(t *testing.T, f *fixture, body func() []pagetest.Part) (*Source, *atomic.Int32) {
	var n atomic.Int32
	return f.hostile(t, pagetest.Handler(body, &n), Options{}), &n
}

// TestOversizedItemIsDeadLetter: an alert over the cap on one alert, between two others, is
// dead-lettered as too large with its first bytes, under its version's message ID (its _id and
// timestamp come first); the others are exported. It is handed over once however often it is
// read — both questions, and polls an hour apart on a quiet tenant, where it stays the newest.
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
	for range 4 { // a quiet tenant: the same page, an hour apart
		e.MustPoll(t)
		f.Clock.Advance(time.Hour)
	}
	e.CheckExactlyOnce(t, Name, map[string]time.Time{"ca_a": at, "ca_big": at, "ca_c": at})
	if len(e.Envs) != 2 || len(e.Dead) != 1 {
		t.Fatalf("%d alerts and %d dead letters, want ca_a and ca_c, and ca_big", len(e.Envs), len(e.Dead))
	}
	// Its id and version were in its first bytes: a dead letter of that version.
	if d := e.Dead[0]; d.MsgID != envelope.MsgID("contoso", Name, "ca_big", at) || !errors.Is(d.Err, page.ErrTooLarge) ||
		len(d.Raw) != page.TooLargePrefix || !bytes.HasPrefix(d.Raw, []byte(`{"_id":"ca_big"`)) {
		t.Errorf("dead letter %s: %v, %d bytes", d.MsgID, d.Err, len(d.Raw))
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
