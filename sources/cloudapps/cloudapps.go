// Package cloudapps exports Microsoft Defender for Cloud Apps alerts (POST /api/v1/alerts/) and
// normalizes them to the envelope.
//
// This API filters only on when an alert was raised (date) and when it was closed
// (resolutionDate), returns at most 100 alerts a response, and allows 30 requests a minute per
// tenant (learn.microsoft.com/defender-cloud-apps/api-introduction). So each poll asks two
// questions (docs/cloudapps.md): the
// alerts raised since the cursor minus the lookback, and the alerts closed since the resolution
// cursor minus the lookback. Both are sorted by date, ascending, and paged by moving the date
// bound to the last page's last date — never by a growing skip, which shifts as alerts arrive —
// except inside one crowded millisecond, which only skip can page.
package cloudapps

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/apis"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/httpclient"
	"github.com/alertexport/alertexport/sources/page"
)

// Name is the source's name in subjects, state keys and metrics.
const Name = "cloudapps"

// pageSize is the API's cap on one response.
const pageSize = 100

// throttleWait is how long a throttled answer without Retry-After waits when the API client has
// no limiter to take it from: the microsoft/MCAS module's "usually the throttle time for this
// call is 1 minute" (B2), which is the documented limit's window.
const throttleWait = time.Minute

// maxRequests bounds one poll: 5,000 pages (500,000 alerts, about three hours of the tenant's
// budget) is beyond any backlog a poll should drain at once; an API that does not page as
// documented fails the poll instead of burning the budget for days.
const maxRequests = 5_000

// Options tunes a Source (the shared options of the page-reading sources; PageSize and
// BatchSize do not apply: the API's page is 100 alerts, and each page is one batch).
type Options = sources.Options

// Source polls one tenant's Defender for Cloud Apps alerts.
type Source struct {
	api       *httpclient.API
	url       string
	id        sources.Identity
	lookback  time.Duration
	startFrom time.Duration
	severity  []int // the severityValues min_severity lets through; nil = all
	opts      Options
}

// New returns the source of a tenant's cloudapps job with settings s; api carries the HTTP client,
// the token source and the tenant's limiter.
func New(s apis.Settings, api *httpclient.API, o Options) *Source {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	a := *api
	if a.ThrottleWait == 0 {
		// The longest window of the tenant's limits (the documented minute unless rate_limits
		// says otherwise): by then every window the API counts has cleared.
		a.ThrottleWait = cmp.Or(a.Limiter.Longest(), throttleWait)
	}
	a.ThrottledBody = true
	if a.Forbidden == "" {
		a.Forbidden = fmt.Sprintf("give app %s the application permission Investigation.read of Microsoft Cloud App Security (API permissions → APIs my organization uses) and grant admin consent; `alertexport auth check` shows the roles the token carries", s.ClientID)
	}
	return &Source{
		api:       &a,
		url:       strings.TrimSuffix(s.APIURL, "/") + "/api/v1/alerts/",
		id:        sources.Identity{Tenant: s.Tenant, TenantID: s.TenantID},
		lookback:  s.Lookback,
		startFrom: s.StartFrom,
		severity:  severities(s.MinSeverity),
		opts:      o,
	}
}

// severities turns min_severity into the severityValues to ask for. The severity filter knows
// 0–2 only (B2), so "informational" (3) cannot be named: below low, nothing is filtered.
func severities(min string) []int {
	switch min {
	case "low":
		return []int{0, 1, 2}
	case "medium":
		return []int{1, 2}
	case "high":
		return []int{2}
	}
	return nil
}

// question is one of a poll's two questions.
type question struct {
	closed bool      // alerts closed since from (else: raised since from)
	from   time.Time // the lower bound of the question's own time
	until  time.Time // its upper bound, exclusive (backfill); zero = none
	// raisedBefore keeps a "closed" question to alerts raised before it (backfill: the others
	// were read, as they are now, by the "new" question); zero = any.
	raisedBefore time.Time
}

// poll is one run of Poll.
type poll struct {
	src           *Source
	sources.Admit // queues what it reads (Rules: Skip, Held, Remember)
	cp            sources.Checkpoint
	prev          sources.Checkpoint // as the poll found it
	lowerNew      time.Time          // what the "new" question reads from: its alerts count as created
	requests      int
	maxRes        time.Time // newest resolveTime taken in by the "closed" question that may move a cursor
	horizon       *sources.Horizon
	item          item // the alert being taken
}

// item is what the poll's rules need to know of the alert being taken, beyond its version.
type item struct {
	limit   time.Time // the newest version time that may move a cursor (stats.limit)
	outside bool      // raised outside the dates asked for
	closes  bool      // a decoded closed alert: its resolveTime moves the resolution cursor
}

// newPoll starts a poll from cp.
func (s *Source) newPoll(cp sources.Checkpoint, emit sources.Emit) *poll {
	p := &poll{src: s, cp: cp.Clone(), prev: cp, horizon: sources.NewHorizon(s.opts.Now)}
	// Batch 0: each page is one batch, flushed by ask.
	p.Admit = sources.Admit{Outbox: sources.Outbox{Emit: emit, Logger: s.opts.Logger}, Tenant: s.id.Tenant, Source: Name, Options: s.opts,
		State: &p.cp, Strays: sources.NewStraySet(cp.Strays), Exported: sources.NewIDSet(), NoVersion: errNoVersion}
	return p
}

// Poll implements sources.Source.
func (s *Source) Poll(ctx context.Context, cp sources.Checkpoint, emit sources.Emit) error {
	p := s.newPoll(cp, emit)
	origin := cp.Origin
	if origin.IsZero() {
		origin = s.opts.Now().UTC().Round(0).Add(-s.startFrom).Truncate(time.Millisecond)
		p.cp.Origin = origin
		if err := p.Flush(ctx, &p.cp); err != nil { // fix the origin before anything is read
			return err
		}
	}
	p.lowerNew = origin
	if !cp.Cursor.IsZero() {
		p.lowerNew = cp.Cursor.Add(-s.lookback)
	}
	lowerRes := origin
	if !cp.ResolutionCursor.IsZero() {
		lowerRes = cp.ResolutionCursor.Add(-s.lookback)
	}
	if err := p.ask(ctx, question{from: p.lowerNew}); err != nil {
		return err
	}
	if err := p.ask(ctx, question{closed: true, from: lowerRes}); err != nil {
		return err
	}
	// Every closing visible now with resolutionDate since lowerRes is read. The resolution
	// cursor moves to the newest one, and at least to the date cursor: both are the service's
	// clock, and a closing that shows up later behind it is late like any alert (lookback).
	// Without that, a tenant that rarely closes alerts would re-read and remember every alert
	// since its last closing.
	// The date cursor likewise follows the resolution cursor: otherwise a tenant where old
	// alerts are closed but no new ones raised would remember every closing.
	newest := p.cp.ResolutionCursor
	// Strays held back while the clocks disagreed, read again now that they may carry a
	// cursor, are ordinary versions from here on.
	promoted := p.Strays.Promote(p.cp.Seen, minTime(p.lowerNew, lowerRes), p.horizon.Limit())
	for _, t := range []time.Time{p.maxRes, p.cp.Cursor, promoted} {
		if t.After(newest) {
			newest = t
		}
	}
	p.cp.ResolutionCursor, p.cp.Cursor = newest, newest
	p.prune()
	p.cp.Strays = p.Strays.Saved(true)
	s.opts.ReportHorizon(s.id.Tenant, Name, p.horizon)
	if p.Exported.Len() == 0 && p.cp.Cursor.Equal(cp.Cursor) && p.cp.ResolutionCursor.Equal(cp.ResolutionCursor) &&
		p.cp.Seen.Len() == cp.Seen.Len() && p.cp.Strays.Len() == cp.Strays.Len() && p.cp.Origin.Equal(cp.Origin) {
		return p.Flush(ctx, nil) // an idle poll: nothing to save
	}
	return p.Flush(ctx, &p.cp)
}

// Backfill exports again every alert raised, and every closing made, in [since, until), as the
// alerts are now, with the live export's message IDs; it hands over no checkpoint. The "new"
// question reads every alert raised in the span as it is now, closed or not, so the "closed"
// question asks only for alerts raised before it: a backlog's closed alerts are not read twice
// (a quarter more calls against the tenant's 30 a minute).
func (s *Source) Backfill(ctx context.Context, since, until time.Time, emit sources.Emit) error {
	p := s.newPoll(sources.Checkpoint{}, func(ctx context.Context, b sources.Batch) error {
		b.Checkpoint = nil
		return emit(ctx, b)
	})
	p.lowerNew = since
	if err := p.ask(ctx, question{from: since, until: until}); err != nil {
		return err
	}
	if err := p.ask(ctx, question{closed: true, from: since, until: until, raisedBefore: since}); err != nil {
		return err
	}
	return p.Flush(ctx, nil)
}

// ask pages through one question in ascending date order, moving the date bound to the last
// date of each full page; a millisecond that holds a whole page is read with skip.
func (p *poll) ask(ctx context.Context, q question) error {
	var date time.Time // lower bound on date; zero = none
	if !q.closed {
		date = q.from
	}
	var pinned bool // date is one crowded millisecond, paged by skip
	skip := 0
	for {
		st, err := p.fetch(ctx, q, date, pinned, skip)
		if err != nil {
			return err
		}
		switch {
		case pinned && st.n == 0 && (skip == 0 || st.hasNext):
			return fmt.Errorf("tenant %q: %s API: no alerts at %s, where the page before showed %d; the API does not filter on date as documented", p.src.id.Tenant, Name, date.Format(time.RFC3339Nano), pageSize)
		case pinned && st.hasNext:
			skip += st.n
		case pinned:
			// The millisecond is read whole; the next page starts after it. (Not "+1 ms" on a
			// cursor: the cursor itself only moves past what was read.)
			pinned, skip, date = false, 0, date.Add(time.Millisecond)
		case !st.hasNext:
			if !q.closed && st.maxDate.After(p.cp.Cursor) {
				p.cp.Cursor = st.maxDate
			}
			return p.Flush(ctx, nil)
		case st.first.IsZero():
			return fmt.Errorf("tenant %q: %s API: a page said there was more (hasNext) but held no alert with a readable timestamp inside the dates asked for; the API does not page as documented", p.src.id.Tenant, Name)
		case st.first.Equal(st.last):
			pinned, skip, date = true, 0, st.first
		default:
			if st.last.Before(date) {
				return fmt.Errorf("tenant %q: %s API: a page sorted by date went back in time; the API does not sort as documented", p.src.id.Tenant, Name)
			}
			// Everything raised before the page's last date is read: the cursor may move there
			// (to the newest date before it that may carry a cursor).
			if to := minTime(st.belowLast, st.maxDate); !q.closed && to.After(p.cp.Cursor) {
				p.cp.Cursor = to
				p.prune()
				p.cp.Strays = p.Strays.Saved(false)
				if err := p.Flush(ctx, &p.cp); err != nil {
					return err
				}
			}
			date = st.last
		}
		if err := p.Flush(ctx, nil); err != nil {
			return err
		}
	}
}

// stats are what a page showed. Dates are those of the alerts inside the dates asked for; an
// alert outside them (an API that did not filter as documented) is exported but steers neither
// paging nor the cursor.
type stats struct {
	bound       time.Time // the date the page was asked from
	limit       time.Time // the newest date that may move a cursor (sources.Horizon)
	outOfOrder  string    // why the page cannot be trusted, if it cannot
	n           int
	hasNext     bool
	first, last time.Time // dates of the page's first and last alerts
	belowLast   time.Time // the newest date before last
	maxDate     time.Time // the newest date that may move a cursor (sources.Held)
}

// fetch asks one page and takes in its alerts.
func (p *poll) fetch(ctx context.Context, q question, date time.Time, pinned bool, skip int) (stats, error) {
	var st stats
	if p.requests++; p.requests > maxRequests {
		return st, fmt.Errorf("tenant %q: %s API: gave up after %d requests in one poll; the API does not page as documented", p.src.id.Tenant, Name, maxRequests)
	}
	body, err := json.Marshal(p.src.request(q, date, pinned, skip))
	if err != nil {
		return st, err
	}
	err = p.src.api.PostWith(ctx, p.src.url, body, func(resp *http.Response, r io.Reader) error {
		p.horizon.Observe(resp.Header)
		st = stats{bound: date, limit: p.horizon.Limit()}
		rest, err := page.Decode(r, "data", func(raw []byte, big error) error {
			st.n++
			if big != nil {
				return p.tooLarge(raw, big, q, &st)
			}
			return p.take(raw, q, &st)
		}, page.Need("hasNext"), page.Log(p.src.opts.Logger.With("tenant", p.src.id.Tenant, "source", Name)))
		if err != nil {
			if err, ok := sources.Unbroken(err); ok {
				return err
			}
			return &httpclient.BodyError{Err: err}
		}
		h, ok := rest["hasNext"]
		if !ok {
			return &httpclient.BodyError{Err: errors.New(`the answer has no "hasNext"`)}
		}
		if err := json.Unmarshal(h, &st.hasNext); err != nil {
			return &httpclient.BodyError{Err: fmt.Errorf("hasNext: %w", err)}
		}
		if st.n >= pageSize {
			st.hasNext = true // a full page may be followed by more, whatever it says
		}
		if st.outOfOrder != "" {
			return fmt.Errorf("tenant %q: %s API: %s; the API does not sort or filter as documented, so the poll stops rather than skip alerts", p.src.id.Tenant, Name, st.outOfOrder)
		}
		return nil
	})
	return st, err
}

// request is the body of one question's page.
func (s *Source) request(q question, date time.Time, pinned bool, skip int) map[string]any {
	filters := map[string]any{}
	// gte and lte are documented as inclusive; whether range includes its end is not.
	if q.closed {
		f := map[string]any{"gte": q.from.UnixMilli()}
		if !q.until.IsZero() {
			f["lte"] = q.until.UnixMilli() - 1
		}
		filters["resolutionDate"] = f
	}
	switch {
	case pinned:
		ms := date.UnixMilli()
		filters["date"] = map[string]any{"gte": ms, "lte": ms}
	case !date.IsZero():
		f := map[string]any{"gte": date.UnixMilli()}
		if !q.closed && !q.until.IsZero() {
			f["lte"] = q.until.UnixMilli() - 1
		}
		filters["date"] = f
	}
	if q.closed && !q.raisedBefore.IsZero() && !pinned {
		f, _ := filters["date"].(map[string]any)
		if f == nil {
			f = map[string]any{}
		}
		f["lte"] = q.raisedBefore.UnixMilli() - 1
		filters["date"] = f
	}
	if s.severity != nil {
		filters["severity"] = map[string]any{"eq": s.severity}
	}
	return map[string]any{"filters": filters, "skip": skip, "limit": pageSize, "sortField": "date", "sortDirection": "asc"}
}

// take handles one alert of a page: decode, note its date, skip what was exported, normalize.
func (p *poll) take(raw []byte, q question, st *stats) error {
	s := p.src
	// The date steers paging, so it is read on its own: an alert that fails to decode whole
	// still moves the page on.
	var d struct {
		Timestamp *millis `json:"timestamp"`
	}
	outside := false
	if json.Unmarshal(raw, &d) == nil && d.Timestamp != nil {
		outside = !st.noteDate(d.Timestamp.t, q)
	}
	if q.closed && !isClosed(raw) {
		return nil // reopened since: its open version belongs to the "new" question
	}
	var a alert
	err := page.ItemErr(raw, page.Unmarshal(raw, &a))
	v, ok := a.version()
	if err != nil || a.ID == "" || !ok {
		return p.dead(raw, a.ID, v, ok, err, outside, st.limit)
	}
	p.item = item{limit: st.limit, outside: outside, closes: a.closed()}
	ver := sources.Version{ID: a.ID, Time: v, Dated: true, Raw: raw, Cursor: p.prev.Cursor,
		Preexisting: a.Timestamp != nil && a.Timestamp.t.Before(p.lowerNew)} // raised before the "new" question reads
	if a.closed() {
		ver.Cursor = p.prev.ResolutionCursor
	}
	// Batch 0: nothing is flushed here, so nothing waits on the context.
	return p.Take(context.Background(), p, ver, func(event string) (envelope.Envelope, error) { return normalize(&a, raw, s.id, event) })
}

// noteDate records a page's dates, and whether they came sorted ascending from the bound asked.
// It reports whether d is inside the dates asked for; one that is not is left out.
func (st *stats) noteDate(d time.Time, q question) bool {
	if !st.bound.IsZero() && d.Before(st.bound) {
		return false
	}
	switch {
	case st.outOfOrder != "":
	case !st.last.IsZero() && d.Before(st.last):
		st.outOfOrder = fmt.Sprintf("alerts came back out of date order (%s after %s)", d.Format(time.RFC3339Nano), st.last.Format(time.RFC3339Nano))
	}
	if st.first.IsZero() {
		st.first = d
	}
	if !d.Equal(st.last) {
		if !st.last.IsZero() && st.last.After(st.belowLast) {
			st.belowLast = st.last
		}
		st.last = d
	}
	if d.After(st.maxDate) && sources.Held(d, st.limit, false) == "" {
		st.maxDate = d
	}
	return true
}

// isClosed reads only resolutionStatusValue.
func isClosed(raw []byte) bool {
	var a alert
	var v struct {
		Status *int `json:"resolutionStatusValue"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return true // let the full decode say what is wrong
	}
	a.ResolutionStatusValue = v.Status
	return a.closed()
}

// dead queues an alert that cannot be versioned or decoded, under its version's message ID
// when it has one (so re-reading it does not publish it again), else one made of its bytes.
func (p *poll) dead(raw []byte, id string, v time.Time, ok bool, cause error, outside bool, limit time.Time) error {
	p.item = item{limit: limit, outside: outside}
	ver := sources.Version{ID: id, Time: v, Dated: id != "" && ok, Raw: raw, Err: cause}
	return p.Take(context.Background(), p, ver, nil) // Batch 0: no flush, nothing waits on ctx
}

// tooLarge takes in an alert over the cap on one alert, of which raw is only the first bytes.
// When its id and version are among them (Microsoft's alerts begin with _id and timestamp), it
// is a dead letter of that version — re-read, it is recognized as any alert is — and its date
// steers paging as any alert's does; otherwise a dead letter with no version.
func (p *poll) tooLarge(raw []byte, big error, q question, st *stats) error {
	var a alert
	if page.Unmarshal(page.Fields(raw, "_id", "timestamp", "resolutionStatusValue", "resolveTime"), &a) != nil {
		return p.dead(raw, "", time.Time{}, false, big, false, st.limit)
	}
	outside := a.Timestamp != nil && !st.noteDate(a.Timestamp.t, q)
	switch {
	case q.closed && a.ResolutionStatusValue == nil: // its status is past what raw holds
		return p.dead(raw, "", time.Time{}, false, big, false, st.limit)
	case q.closed && !a.closed():
		return nil // reopened since: its open version belongs to the "new" question
	}
	v, ok := a.version()
	return p.dead(raw, a.ID, v, ok && a.ID != "", big, outside, st.limit)
}

// Skip implements sources.Rules: version v of alert id was exported already.
func (p *poll) Skip(id string, v time.Time) bool { return p.Known(id, v) }

// Held implements sources.Rules: a version may not move a cursor when it is dated before 2000
// or past the API's clock, or raised outside the dates asked for (an API that did not filter as
// documented); it is kept as a stray instead.
func (p *poll) Held(v time.Time) string { return sources.Held(v, p.item.limit, p.item.outside) }

// Remember implements sources.Rules: in Seen, or among the strays; a closing that may move a
// cursor moves the resolution cursor's candidate.
func (p *poll) Remember(id string, v time.Time, held string) error {
	if err := p.Keep(id, v, held, p.item.limit); err != nil {
		return err
	}
	if p.item.closes && held == "" && v.After(p.maxRes) {
		p.maxRes = v
	}
	return nil
}

// prune forgets versions neither question will read again: below both questions' next lower
// bounds (a version's kind — a timestamp or a resolveTime — is not recorded, so the lower of
// the two decides).
func (p *poll) prune() {
	floor := func(cursor time.Time) time.Time {
		if cursor.IsZero() {
			return p.cp.Origin
		}
		return cursor.Add(-p.src.lookback)
	}
	p.cp.Seen.Prune(minTime(floor(p.cp.Cursor), floor(p.cp.ResolutionCursor)))
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
