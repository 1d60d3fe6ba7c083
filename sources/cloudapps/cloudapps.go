// Package cloudapps exports Microsoft Defender for Cloud Apps alerts (POST /api/v1/alerts/) and
// normalizes them to the envelope.
//
// This API filters only on when an alert was raised (date) and when it was closed
// (resolutionDate), returns at most 100 alerts a response, and allows 30 requests a minute per
// tenant (research/defender-apis.md Part B). So each poll asks two questions (SPEC §4): the
// alerts raised since the cursor minus the lookback, and the alerts closed since the resolution
// cursor minus the lookback. Both are sorted by date, ascending, and paged by moving the date
// bound to the last page's last date — never by a growing skip, which shifts as alerts arrive —
// except inside one crowded millisecond, which only skip can page.
package cloudapps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alertexport/alertexport/config"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/httpclient"
	"github.com/alertexport/alertexport/sources/page"
)

// Name is the source's name in subjects, state keys and metrics.
const Name = "cloudapps"

// pageSize is the API's cap on one response.
const pageSize = 100

// Limits is the documented call rate, per tenant (B2: "30 requests per minute per tenant").
var Limits = []httpclient.Limit{{Requests: 30, Per: time.Minute}}

// throttleWait is how long a throttled answer without Retry-After waits: the microsoft/MCAS
// module's "usually the throttle time for this call is 1 minute" (B2).
const throttleWait = time.Minute

// maxRequests bounds one poll (100,000 pages are 10 million alerts): an API that does not page
// as documented fails the poll instead of burning the tenant's budget forever.
const maxRequests = 100_000

// Options tunes a Source; the zero value is what production uses.
type Options struct {
	Now    func() time.Time // the local clock, only for the first poll's start; nil = time.Now
	Logger *slog.Logger
	Late   func(behind time.Duration) // told of each version that appeared behind its cursor
}

// Source polls one tenant's Defender for Cloud Apps alerts.
type Source struct {
	api       *httpclient.API
	url       string
	id        identity
	lookback  time.Duration
	startFrom time.Duration
	severity  []int // the severityValues min_severity lets through; nil = all
	opts      Options
}

// New returns the source for tenant t's cloudapps settings s; api carries the HTTP client,
// the token source and the tenant's limiter (Limits).
func New(t config.Tenant, s config.Source, api *httpclient.API, o Options) *Source {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	a := *api
	if a.ThrottleWait == 0 {
		a.ThrottleWait = throttleWait
	}
	a.ThrottledBody = true
	if a.Forbidden == "" {
		a.Forbidden = fmt.Sprintf("give app %s the application permission Investigation.read of Microsoft Cloud App Security (API permissions → APIs my organization uses) and grant admin consent; `alertexport auth check` shows the roles the token carries", t.ClientID)
	}
	return &Source{
		api:       &a,
		url:       strings.TrimSuffix(s.APIURL, "/") + "/api/v1/alerts/",
		id:        identity{tenant: t.Name, tenantID: t.TenantID},
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
	closed bool      // alerts closed since resFrom (else: raised since dateFrom)
	from   time.Time // the lower bound of the question's own time
}

// poll is one run of Poll.
type poll struct {
	src *Source
	sources.Outbox
	cp       sources.Checkpoint
	prev     sources.Checkpoint // as the poll found it
	lowerNew time.Time          // what the "new" question reads from: its alerts count as created
	exported map[string]bool
	requests int
	maxRes   time.Time // newest resolveTime taken in by the "closed" question
}

// Poll implements sources.Source.
func (s *Source) Poll(ctx context.Context, cp sources.Checkpoint, emit sources.Emit) error {
	p := &poll{src: s, Outbox: sources.Outbox{Emit: emit}, cp: cp.Clone(), prev: cp, exported: map[string]bool{}}
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
	for _, t := range []time.Time{p.maxRes, p.cp.Cursor} {
		if t.After(p.cp.ResolutionCursor) {
			p.cp.ResolutionCursor = t
		}
	}
	p.prune()
	return p.Flush(ctx, &p.cp)
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
		case pinned && st.hasNext:
			skip += st.n
		case pinned:
			pinned, skip, date = false, 0, date.Add(time.Millisecond)
		case !st.hasNext:
			if !q.closed && st.maxDate.After(p.cp.Cursor) {
				p.cp.Cursor = st.maxDate
			}
			return p.Flush(ctx, nil)
		case st.n == 0 || st.first.Equal(st.last):
			if st.n == 0 {
				return fmt.Errorf("tenant %q: %s API: an empty page said there was more (hasNext); the API does not page as documented", p.src.id.tenant, Name)
			}
			pinned, skip, date = true, 0, st.first
		default:
			if st.last.Before(date) {
				return fmt.Errorf("tenant %q: %s API: a page sorted by date went back in time; the API does not sort as documented", p.src.id.tenant, Name)
			}
			// Everything raised before the page's last date is read: the cursor may move there.
			if !q.closed && st.belowLast.After(p.cp.Cursor) {
				p.cp.Cursor = st.belowLast
				p.prune()
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

// stats are what a page showed.
type stats struct {
	n           int
	hasNext     bool
	first, last time.Time // dates of the page's first and last alerts
	belowLast   time.Time // the newest date before last
	maxDate     time.Time
}

// fetch asks one page and takes in its alerts.
func (p *poll) fetch(ctx context.Context, q question, date time.Time, pinned bool, skip int) (stats, error) {
	var st stats
	if p.requests++; p.requests > maxRequests {
		return st, fmt.Errorf("tenant %q: %s API: gave up after %d requests in one poll; the API does not page as documented", p.src.id.tenant, Name, maxRequests)
	}
	body, err := json.Marshal(p.src.request(q, date, pinned, skip))
	if err != nil {
		return st, err
	}
	err = p.src.api.Post(ctx, p.src.url, body, func(r io.Reader) error {
		st = stats{}
		rest, err := page.Decode(r, "data", func(raw []byte) error {
			st.n++
			return p.take(raw, q, &st)
		})
		if err != nil {
			return &httpclient.BodyError{Err: err}
		}
		if h, ok := rest["hasNext"]; ok {
			if err := json.Unmarshal(h, &st.hasNext); err != nil {
				return &httpclient.BodyError{Err: fmt.Errorf("hasNext: %w", err)}
			}
		}
		return nil
	})
	return st, err
}

// request is the body of one question's page.
func (s *Source) request(q question, date time.Time, pinned bool, skip int) map[string]any {
	filters := map[string]any{}
	if q.closed {
		filters["resolutionDate"] = map[string]any{"gte": q.from.UnixMilli()}
	}
	switch {
	case pinned:
		ms := date.UnixMilli()
		filters["date"] = map[string]any{"range": []map[string]int64{{"start": ms, "end": ms}}}
	case !date.IsZero():
		filters["date"] = map[string]any{"gte": date.UnixMilli()}
	}
	if s.severity != nil {
		filters["severity"] = map[string]any{"eq": s.severity}
	}
	return map[string]any{"filters": filters, "skip": skip, "limit": pageSize, "sortField": "date", "sortDirection": "asc"}
}

// take handles one alert of a page: decode, note its date, skip what was exported, normalize.
func (p *poll) take(raw []byte, q question, st *stats) error {
	s := p.src
	var a alert
	err := json.Unmarshal(raw, &a)
	if err == nil && !utf8.Valid(raw) {
		err = errors.New("the alert is not valid UTF-8")
	}
	if err == nil && a.Timestamp != nil {
		d := a.Timestamp.t
		if st.first.IsZero() {
			st.first = d
		}
		if d.Before(st.last) || d.After(st.last) {
			if !st.last.IsZero() && st.last.After(st.belowLast) {
				st.belowLast = st.last
			}
			st.last = d
		}
		if d.After(st.maxDate) {
			st.maxDate = d
		}
	}
	v, ok := a.version()
	if err != nil || a.ID == "" || !ok {
		if err == nil {
			err = errNoVersion
		}
		return p.dead(raw, a.ID, v, ok, err)
	}
	if p.cp.Seen.Has(a.ID, v) {
		return nil
	}
	env, nerr := normalize(&a, raw, s.id, p.event(&a))
	p.cp.Seen.Add(a.ID, v)
	p.exported[a.ID] = true
	msgID := envelope.MsgID(s.id.tenant, Name, a.ID, v)
	if nerr != nil {
		p.Pending = append(p.Pending, sources.Message{MsgID: msgID, Tenant: s.id.tenant, Source: Name, Raw: raw, Err: nerr})
	} else {
		p.Pending = append(p.Pending, sources.Message{MsgID: msgID, Tenant: s.id.tenant, Source: Name, Alert: env})
	}
	if a.closed() {
		if v.After(p.maxRes) {
			p.maxRes = v
		}
		if prev := p.prev.ResolutionCursor; !prev.IsZero() && v.Before(prev) && s.opts.Late != nil {
			s.opts.Late(prev.Sub(v))
		}
	} else if prev := p.prev.Cursor; !prev.IsZero() && v.Before(prev) && s.opts.Late != nil {
		s.opts.Late(prev.Sub(v))
	}
	return nil
}

// dead queues an alert that cannot be versioned or decoded, under its version's message ID
// when it has one (so re-reading it does not publish it again), else one made of its bytes.
func (p *poll) dead(raw []byte, id string, v time.Time, ok bool, cause error) error {
	s := p.src
	msgID := ""
	if id != "" && ok {
		if p.cp.Seen.Has(id, v) {
			return nil
		}
		p.cp.Seen.Add(id, v)
		msgID = envelope.MsgID(s.id.tenant, Name, id, v)
	} else {
		msgID = sources.DeadLetterID(s.id.tenant, Name, raw)
	}
	p.Pending = append(p.Pending, sources.Message{MsgID: msgID, Tenant: s.id.tenant, Source: Name, Raw: raw, Err: cause})
	return nil
}

// event: created for the first export of an alert raised inside what the "new" question reads;
// updated for a later version (its closing) or an alert raised before that.
func (p *poll) event(a *alert) string {
	if p.exported[a.ID] || p.cp.Seen.HasAny(a.ID) {
		return envelope.Updated
	}
	if a.Timestamp != nil && a.Timestamp.t.Before(p.lowerNew) {
		return envelope.Updated
	}
	return envelope.Created
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
