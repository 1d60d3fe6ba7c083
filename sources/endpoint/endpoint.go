// Package endpoint exports Microsoft Defender for Endpoint alerts (GET /api/alerts): it polls on
// lastUpdateTime, pages by time windows, and normalizes each alert version to the envelope.
//
// Why time windows: the API returns no @odata.nextLink when $top is set, documents no order,
// and alerts change while a poll pages through them, so neither links nor $skip offsets nor
// "the last item of the page" can be trusted (learn.microsoft.com/defender-endpoint/api/get-alerts;
// MicrosoftDocs/microsoft-365-docs#8489). A poll
// asks for lastUpdateTime ≥ cursor − lookback with $top = 1,000 (a probe: most polls are done
// with it); a window that comes back full is cut into smaller ones, asked earliest first with
// $top = 10,000. The last window is open-ended, so an alert
// updated while the poll pages shows up there with its new lastUpdateTime.
//
// How a full window is cut: the answer is a sample of the window (1,000 of its alerts for the
// probe, 10,000 for a page, in no documented order). The first piece takes a sixteenth of the
// sample; once a piece comes back whole, the window's alerts per sampled alert are known, and
// each next piece is sized to fill 90 % of a page, two sampling errors ahead. When the API's
// order is unrelated to time (as the simulator's), a backlog is so read about once plus the
// probe (1.01× for 100,000 alerts) instead of 2.5× by halving; when answers come sorted by time,
// the sample covers only one end and it is read about twice, as by halving. An estimate that
// misses costs a full answer, which is cut again by its own sample. Correctness never rests on
// the estimate: every window is read until it comes back less than full, and the windows cover
// the first one.
package endpoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/apis"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/httpclient"
	"github.com/alertexport/alertexport/sources/page"
)

// Name is the source's name in subjects, state keys and metrics.
const Name = "endpoint"

// tick is the API's time resolution: it sends up to 7 fractional digits.
const tick = 100 * time.Nanosecond

// maxRequests bounds one poll: a million 10,000-alert pages is far beyond any tenant, so
// reaching it means the API does not behave as documented, and looping on would only burn the
// tenant's call budget.
const maxRequests = 100_000

// maxSkipPasses bounds the re-reads of one instant that holds more alerts than a page: see
// fetchBySkip.
const maxSkipPasses = 3

// Options tunes a Source (the shared options of the page-reading sources).
type Options = sources.Options

// Source polls one tenant's Defender for Endpoint alerts.
type Source struct {
	api       *httpclient.API
	alertsURL string
	id        sources.Identity
	lookback  time.Duration
	startFrom time.Duration
	severity  string   // the $filter clause for min_severity, "" for none
	below     []string // lower-case severities min_severity excludes
	opts      Options
}

// New returns the source of a tenant's endpoint job with settings s. api carries the HTTP client, the
// token source and the tenant's limiter.
func New(s apis.Settings, api *httpclient.API, o Options) *Source {
	o = o.WithDefaults(apis.Endpoint.PageCap)
	a := *api
	if a.Forbidden == "" {
		a.Forbidden = fmt.Sprintf("give app %s the application permission Alert.Read.All of WindowsDefenderATP (API permissions → APIs my organization uses) and grant admin consent; `alertexport auth check` shows the roles the token carries", s.ClientID)
	}
	src := &Source{
		api:       &a,
		alertsURL: strings.TrimSuffix(s.APIURL, "/") + "/api/alerts",
		id:        sources.Identity{Tenant: s.Tenant, TenantID: s.TenantID, Portal: s.Portal},
		lookback:  s.Lookback,
		startFrom: s.StartFrom,
		opts:      o,
	}
	src.severity, src.below = severityFilter(s.MinSeverity)
	return src
}

// severityFilter turns min_severity into "severity ne 'X'" clauses (ne and and are operators
// the API documents; in and or are not) and the list the client checks again. Unknown
// severities (UnSpecified, values added later) are kept: a filter must not hide what it cannot
// rank.
func severityFilter(min string) (string, []string) {
	ranked := []string{"Informational", "Low", "Medium", "High"}
	var clauses, below []string
	for _, s := range ranked {
		if strings.EqualFold(s, min) {
			break
		}
		clauses = append(clauses, "severity ne '"+s+"'")
		below = append(below, strings.ToLower(s))
	}
	if min == "" || len(clauses) == 0 {
		return "", nil
	}
	return strings.Join(clauses, " and "), below
}

// span is a half-open time range [lo, hi); a zero bound is unbounded.
type span struct{ lo, hi time.Time }

// window is one question to the API: lastUpdateTime in upd and, once a single instant holds
// more alerts than a page, alertCreationTime in cre (or null).
type window struct {
	top     int // $top when not a page: the probe a poll begins with
	upd     span
	cre     span
	creNull bool // alertCreationTime eq null
	byCre   bool // cre applies
	skip    bool // the last resort: page this window with $skip (see fetchBySkip)

	// A window cut from a full one: sample, when not nil, is what the full answer showed of
	// this window (sorted lastUpdateTimes, Unix ns), still to be carved into pieces before
	// anything is asked; a piece has sampled of them, and dens learns from what it holds.
	sample  []int64
	sampled int
	dens    *density
}

// density is how many alerts of a window one sampled alert stands for, learned from the pieces
// read so far (0: not known yet).
type density struct {
	inside, sampled int     // totals of the pieces read, full ones counted at what they returned
	per             float64 // the estimate
}

// learn takes in what a piece held: inside alerts, of which sampled were in the sample. A full
// piece held more: its count stays in the totals as the least it held, and until the next piece
// the estimate is twice its own. Forgetting it once a piece came back whole let a piece of one
// sampled alert in a sparse stretch set the estimate alone, a third of the truth, and the next
// piece came back full again (three to five full pages of 20 in one poll in 5 % of
// TestBacklogReadAboutOnce's runs).
func (d *density) learn(inside, sampled int, full bool) {
	if d == nil || sampled == 0 {
		return
	}
	d.inside += inside
	d.sampled += sampled
	d.per = max(1, float64(d.inside)/float64(d.sampled))
	if full {
		d.per = max(d.per, 2*float64(inside)/float64(sampled))
	}
}

func (w window) instant() bool { return !w.upd.hi.IsZero() && w.upd.hi.Sub(w.upd.lo) <= tick }

// stats are what a fetch learned about a window.
type stats struct {
	w              window
	n              int  // alerts returned
	inside         int  // of which inside the window asked for
	more           bool // the answer said there is more (a nextLink)
	minCre, maxCre time.Time
	times          []int64 // the lastUpdateTimes inside (Unix ns): the sample a full window is cut by
}

// note takes a returned alert's times into the sample that guides splitting. Only alerts inside
// the window count: an API that answered outside it must not make the split wider.
func (st *stats) note(a *alert) {
	u, c := a.LastUpdateTime, a.AlertCreationTime
	if u == nil || !st.w.upd.has(*u) {
		return
	}
	switch {
	case st.w.creNull && c != nil, st.w.byCre && (c == nil || !st.w.cre.has(*c)):
		return
	}
	st.inside++
	st.times = append(st.times, u.UnixNano())
	if c != nil {
		st.minCre, st.maxCre = widen(st.minCre, st.maxCre, *c)
	}
}

// has reports whether t is in the span.
func (s span) has(t time.Time) bool {
	return (s.lo.IsZero() || !t.Before(s.lo)) && (s.hi.IsZero() || t.Before(s.hi))
}

func widen(lo, hi, t time.Time) (time.Time, time.Time) {
	t = t.UTC()
	if lo.IsZero() || t.Before(lo) {
		lo = t
	}
	if hi.IsZero() || t.After(hi) {
		hi = t
	}
	return lo, hi
}

// poll is one run of Poll.
type poll struct {
	src           *Source
	sources.Admit                    // queues what it reads (Rules: Skip, Held, Remember)
	cp            sources.Checkpoint // the working copy, handed to emit at checkpoints
	prev          time.Time          // the cursor the poll started from
	lower         time.Time          // the poll's lower bound on lastUpdateTime
	dirty         bool               // cp changed since it was last handed to emit
	requests      int                // requests made, against maxRequests
	horizon       *sources.Horizon   // how far the cursor may go: the API's clock
	fit           int                // alerts that fitted in an answer cut off at the cap on its body (0: none was)
	asked         span               // the window the alert being taken was asked in (zero: any)
}

// fill is how many alerts a window is cut to hold: a page, or fewer once an answer went over
// the cap on a page's body, so that the pieces' answers fit.
func (p *poll) fill() int {
	if p.fit > 0 {
		return min(p.fit, p.src.opts.PageSize)
	}
	return p.src.opts.PageSize
}

func (s *Source) newPoll(cp sources.Checkpoint, emit sources.Emit) *poll {
	p := &poll{src: s, cp: cp.Clone(), prev: cp.Cursor, horizon: sources.NewHorizon(s.opts.Now)}
	p.Admit = sources.Admit{Outbox: sources.Outbox{Emit: emit, Logger: s.opts.Logger}, Tenant: s.id.Tenant, Source: Name, Options: s.opts,
		State: &p.cp, Strays: sources.NewStraySet(cp.Strays), Exported: sources.NewIDSet(), Below: s.below, Batch: s.opts.BatchSize, NoVersion: errNoVersion}
	return p
}

// Poll implements sources.Source.
func (s *Source) Poll(ctx context.Context, cp sources.Checkpoint, emit sources.Emit) error {
	p := s.newPoll(cp, emit)
	var lower time.Time
	switch {
	case !cp.Cursor.IsZero():
		lower = cp.Cursor.Add(-s.lookback) // ge, never gt: equal timestamps and late alerts
	case !cp.Origin.IsZero():
		lower = cp.Origin // no alert seen yet: keep reaching back to where the job began
	default:
		lower = s.opts.Now().UTC().Round(0).Add(-s.startFrom).Truncate(tick)
		// Saved before anything is read: a first poll that fails still fixes where the job
		// began, instead of letting it slide with the clock.
		p.cp.Origin = lower
		if err := p.Flush(ctx, &p.cp); err != nil {
			return err
		}
	}
	p.lower = lower
	err := p.run(ctx, window{top: s.probe(), upd: span{lo: lower}})
	s.opts.ReportHorizon(s.id.Tenant, Name, p.horizon)
	return err
}

// Backfill exports every alert whose lastUpdateTime is in [since, until) again, as it is now,
// with the live export's message IDs; it hands over no checkpoint (the live ones stay).
func (s *Source) Backfill(ctx context.Context, since, until time.Time, emit sources.Emit) error {
	p := s.newPoll(sources.Checkpoint{}, func(ctx context.Context, b sources.Batch) error {
		b.Checkpoint = nil
		return emit(ctx, b)
	})
	p.lower = since.UTC().Truncate(tick)
	return p.run(ctx, window{top: s.probe(), upd: span{lo: p.lower, hi: until.UTC().Truncate(tick)}})
}

// probe is the $top of a poll's first question: a tenth of a page. Most polls find fewer
// alerts than that, and are done in one request as with a page; a backlog answers it full, and
// its alerts are a sample to cut the backlog by, as a full page's would be — but the windows cut
// from it read again only a tenth of a page's alerts, not a whole page's: a 20,000-alert backlog
// is read 1.05 times instead of 1.5 (BENCHMARKS.md, issue 20).
func (s *Source) probe() int { return max(1, s.opts.PageSize/10) }

// top is the $top of w.
func (s *Source) top(w window) int {
	if w.top > 0 {
		return w.top
	}
	return s.opts.PageSize
}

// run reads first and, as it comes back full, the windows it splits into, earliest first.
func (p *poll) run(ctx context.Context, first window) error {
	s := p.src
	todo := []window{first} // a stack, earliest window on top
	for len(todo) > 0 {
		w := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if w.sample != nil {
			parts := carve(w, p.fill(), false)
			for i := len(parts) - 1; i >= 0; i-- {
				todo = append(todo, parts[i])
			}
			continue
		}
		var st stats
		var err error
		if w.skip {
			err = p.fetchBySkip(ctx, w)
		} else {
			st, err = p.fetch(ctx, w, 0)
		}
		if err != nil {
			return err
		}
		full := !w.skip && (st.n >= s.top(w) || st.more)
		w.dens.learn(st.inside, w.sampled, full)
		if full {
			if st.inside == 0 {
				return fmt.Errorf("tenant %q: endpoint API: a full answer for lastUpdateTime in [%s, %s) held no alert inside that range; the API does not filter as documented",
					s.id.Tenant, w.upd.lo.Format(time.RFC3339Nano), w.upd.hi.Format(time.RFC3339Nano))
			}
			parts := split(w, st, p.fill())
			s.opts.Logger.Debug("window full, splitting", "tenant", s.id.Tenant, "from", w.upd.lo, "to", w.upd.hi, "parts", len(parts))
			for i := len(parts) - 1; i >= 0; i-- {
				todo = append(todo, parts[i])
			}
			continue
		}
		// Everything before the next window to ask is now read.
		var done time.Time // zero: everything
		if len(todo) > 0 {
			done = todo[len(todo)-1].upd.lo
		}
		if err := p.advance(ctx, done); err != nil {
			return err
		}
	}
	return nil
}

// advance moves the cursor to the newest exported version before done (zero: any, the poll has
// read everything) and hands the pending messages and the checkpoint over. (Versions that may
// not carry the cursor are in p.Strays, not in Seen: see Held.)
func (p *poll) advance(ctx context.Context, done time.Time) error {
	cursor := p.cp.Cursor
	if done.IsZero() {
		// The poll has read everything: strays held back while the clocks disagreed may now be
		// ordinary versions, which carry the cursor and are forgotten in their turn.
		p.Strays.Promote(p.cp.Seen, p.lower, p.horizon.Limit())
	}
	for _, vs := range p.cp.Seen {
		for _, n := range vs {
			if t := time.Unix(0, n).UTC(); t.After(cursor) && (done.IsZero() || t.Before(done)) {
				cursor = t
			}
		}
	}
	if !cursor.Equal(p.cp.Cursor) {
		p.cp.Cursor = cursor
		p.cp.Seen.Prune(cursor.Add(-p.src.lookback))
		p.dirty = true
	}
	if !p.dirty && len(p.Pending) == 0 {
		return nil
	}
	p.dirty = false
	saved := p.cp
	saved.Seen = saved.Seen.Upto(saved.Cursor) // what the split windows ahead will read again
	saved.Strays = p.Strays.Saved(done.IsZero())
	return p.Flush(ctx, &saved)
}

// fetch asks for one window (at offset skip) and takes in what comes back.
func (p *poll) fetch(ctx context.Context, w window, skip int) (stats, error) {
	var st stats
	if p.requests++; p.requests > maxRequests {
		return st, fmt.Errorf("tenant %q: endpoint API: gave up after %d requests in one poll; the API's answers do not narrow down as documented", p.src.id.Tenant, maxRequests)
	}
	u := p.src.query(w, skip)
	err := p.src.api.GetWith(ctx, u, func(resp *http.Response, body io.Reader) error {
		p.horizon.Observe(resp.Header)
		st = stats{w: w} // a retried request starts over; versions taken in are not taken twice
		rest, err := page.DecodeInto(body, "value", func(raw []byte, a *alert, derr error) error {
			st.n++
			return p.takeDecoded(ctx, raw, a, derr, &st)
		}, page.Ahead(), page.Log(p.src.opts.Logger.With("tenant", p.src.id.Tenant, "source", Name)))
		if err != nil {
			if err, ok := sources.Unbroken(err); ok {
				return err
			}
			return &httpclient.BodyError{Err: err}
		}
		_, st.more = rest["@odata.nextLink"]
		return nil
	})
	// An answer over the cap on a page's body is cut off; its window is cut smaller, as if it
	// had come back full, by what was read of it, into pieces that should hold what fitted.
	// Not when paging with $skip: an offset past the part never read would skip it.
	var big *httpclient.BodyTooLargeError
	if errors.As(err, &big) && !w.skip && st.inside > 0 {
		p.src.opts.Logger.Warn("an answer was over the cap on one page's body; its window is cut smaller, as if it had come back full",
			"tenant", p.src.id.Tenant, "from", w.upd.lo, "to", w.upd.hi, "cap", big.Limit, "alerts_read", st.n)
		if p.fit == 0 || st.n < p.fit {
			p.fit = max(st.n, 1)
		}
		st.more = true
		return st, nil
	}
	return st, err
}

// fetchBySkip reads a window that no time range can narrow (more alerts than a page share one
// lastUpdateTime and one alertCreationTime) with $skip. Offsets are only as stable as the set:
// an alert updated meanwhile leaves the window and shifts the others, so the window is read
// again until a pass finds nothing new; if it never settles, the poll fails and the next one
// starts over from the checkpoint, losing nothing.
func (p *poll) fetchBySkip(ctx context.Context, w window) error {
	for pass := 1; pass <= maxSkipPasses; pass++ {
		before := p.cp.Seen.Len()
		for skip := 0; ; skip += p.src.opts.PageSize {
			st, err := p.fetch(ctx, w, skip)
			if err != nil {
				return err
			}
			if st.n < p.src.opts.PageSize && !st.more {
				break
			}
		}
		if pass > 1 && p.cp.Seen.Len() == before {
			return nil
		}
	}
	return fmt.Errorf("tenant %q: endpoint API: the alerts with lastUpdateTime %s changed while being paged %d times; the next poll tries again",
		p.src.id.Tenant, w.upd.lo.Format(time.RFC3339Nano), maxSkipPasses)
}

// take handles one alert of a page: decode, skip what was exported, normalize, queue.
func (p *poll) take(ctx context.Context, raw []byte, st *stats) error {
	var a alert
	err := page.Unmarshal(raw, &a)
	return p.takeDecoded(ctx, raw, &a, err, st)
}

// takeDecoded is take for an alert the page decoder has decoded already (err: how that failed).
func (p *poll) takeDecoded(ctx context.Context, raw []byte, a *alert, err error, st *stats) error {
	p.asked = st.w.upd
	v := sources.Version{Raw: raw, Err: page.ItemErr(raw, err), Cursor: p.prev}
	if v.Err != nil {
		v.ID, v.Time, v.Dated = page.Version(raw, "lastUpdateTime")
		if v.Dated {
			st.note(&alert{ID: v.ID, LastUpdateTime: &v.Time})
		}
		return p.Take(ctx, p, v, nil)
	}
	st.note(a)
	if a.ID != "" && a.LastUpdateTime != nil {
		v.ID, v.Time, v.Dated = a.ID, a.LastUpdateTime.UTC(), true
	}
	if a.Severity != nil {
		v.Severity = *a.Severity
	}
	// Created before the poll's lower bound: an alert whose creation nobody exported.
	v.Preexisting = a.AlertCreationTime != nil && a.AlertCreationTime.Before(p.lower)
	return p.Take(ctx, p, v, func(event string) (envelope.Envelope, error) { return normalize(a, raw, p.src.id, event) })
}

// Skip implements sources.Rules: version t of alert id was exported already.
func (p *poll) Skip(id string, t time.Time) bool { return p.Known(id, t) }

// Held implements sources.Rules: a version may not move the cursor when it is dated before
// 2000 or past the API's clock, or outside the window asked for (an API that did not filter as
// documented); it is kept as a stray instead.
func (p *poll) Held(t time.Time) string {
	return sources.Held(t, p.horizon.Limit(), !p.asked.has(t))
}

// Remember implements sources.Rules: in Seen, whose newest versions carry the cursor, or
// among the strays.
func (p *poll) Remember(id string, t time.Time, held string) error {
	p.dirty = true // the checkpoint must keep it, whether or not the cursor moves
	return p.Keep(id, t, held, p.horizon.Limit())
}

// query builds the request URL for a window.
func (s *Source) query(w window, skip int) string {
	var f strings.Builder
	f.WriteString("lastUpdateTime ge " + literal(w.upd.lo))
	if !w.upd.hi.IsZero() {
		f.WriteString(" and lastUpdateTime lt " + literal(w.upd.hi))
	}
	switch {
	case w.creNull:
		f.WriteString(" and alertCreationTime eq null")
	case w.byCre:
		if !w.cre.lo.IsZero() {
			f.WriteString(" and alertCreationTime ge " + literal(w.cre.lo))
		}
		if !w.cre.hi.IsZero() {
			f.WriteString(" and alertCreationTime lt " + literal(w.cre.hi))
		}
	}
	if s.severity != "" {
		f.WriteString(" and " + s.severity)
	}
	q := url.Values{"$filter": {f.String()}, "$top": {strconv.Itoa(s.top(w))}, "$expand": {"evidence"}}
	if skip > 0 {
		q.Set("$skip", strconv.Itoa(skip))
	}
	return s.alertsURL + "?" + q.Encode()
}

// literal formats a time as the API's DateTimeOffset literal, with all 7 fractional digits
// (the form of the documentation's PowerShell "o" format).
func literal(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

// split divides a window that came back full into smaller ones that cover it, earliest first.
// While the window spans more than one instant it is carved in time by what the full page
// showed (see carve); a single instant is cut by alertCreationTime instead, plus a window for
// alerts without one; when that too is down to one instant, the window is paged with $skip.
func split(w window, st stats, page int) []window {
	w.top = 0 // what is cut from a probe is asked a page at a time
	var out []window
	switch {
	case !w.instant():
		if len(st.times) > 0 {
			slices.Sort(st.times)
			return carve(window{upd: w.upd, sample: st.times, dens: &density{}}, page, true)
		}
	case !w.byCre && !w.creNull:
		spans, ok := cut(span{}, st.minCre, st.maxCre)
		for _, r := range spans {
			out = append(out, window{upd: w.upd, byCre: true, cre: r})
		}
		// Alerts without a creation time match no range; ask for them apart.
		out = append(out, window{upd: w.upd, creNull: true})
		if ok {
			return out
		}
		// No creation time to cut by: page the whole instant (with and without one).
		return []window{{upd: w.upd, skip: true}}
	case w.byCre && (w.cre.lo.IsZero() || w.cre.hi.IsZero() || w.cre.hi.Sub(w.cre.lo) > tick):
		spans, ok := cut(w.cre, st.minCre, st.maxCre)
		for _, r := range spans {
			out = append(out, window{upd: w.upd, byCre: true, cre: r})
		}
		if ok {
			return out
		}
	}
	w.skip = true
	return []window{w}
}

// carve cuts the first piece off w, a window a full answer sampled, and leaves the rest, with
// the rest of the sample, to be carved when its turn comes. The piece holds as many sampled
// alerts as should fill a page at the density learned so far with room for the sample's error,
// or a sixteenth of the sample while nothing is known; when that is the whole sample, the rest is asked whole. A
// window that has just come back full (fresh) is always cut, so that every question is
// narrower than the one before it.
func carve(w window, page int, fresh bool) []window {
	smp := w.sample
	whole := window{upd: w.upd, sampled: len(smp), dens: w.dens}
	k := len(smp) / 16
	if w.dens.per > 0 {
		// k sampled alerts stand for about k·per alerts, give or take √k·per: the piece aims at
		// 90 % of a page two such errors ahead, so that it seldom comes back full (a full
		// answer is a page read again). A page's sample (10,000) errs by about 1 % a piece, the
		// probe's (1,000) by 10 %.
		k = int(math.Pow(math.Sqrt(1+0.9*float64(page)/w.dens.per)-1, 2))
	}
	k = max(k, 1)
	if k >= len(smp) {
		if !fresh {
			return []window{whole}
		}
		k = len(smp) - 1
	}
	// The piece ends at the first sampled time from the k-th on that is past its start.
	lo := w.upd.lo.UnixNano()
	var b int64
	switch i, _ := slices.BinarySearch(smp, max(smp[k], lo+1)); {
	case i < len(smp):
		b = smp[i]
	case fresh: // every sampled alert is at lo: the instant apart, then the rest
		b = lo + int64(tick)
	default:
		return []window{whole}
	}
	in, _ := slices.BinarySearch(smp, b) // the sampled times before b
	at := time.Unix(0, b).UTC()
	rest := window{upd: span{lo: at, hi: w.upd.hi}, sample: smp[in:], dens: w.dens}
	if in == len(smp) {
		rest.sample = nil // nothing sampled there: ask it as it is
	}
	return []window{{upd: span{lo: w.upd.lo, hi: at}, sampled: in, dens: w.dens}, rest}
}

// cut divides s, which held more than a page, into smaller spans that cover it in order: the
// stretch before the sample's earliest time, the sampled stretch halved, and the stretch after
// its latest. min and max are the earliest and latest times seen in s; ok is false when there
// is nothing to cut by.
func cut(s span, min, max time.Time) (out []span, ok bool) {
	if min.IsZero() {
		return nil, false
	}
	lo, hi := s.lo, s.hi
	var after []span
	if lo.IsZero() || min.After(lo) {
		out = append(out, span{lo: s.lo, hi: min})
		lo = min
	}
	if end := max.Add(tick); hi.IsZero() || end.Before(hi) {
		after = []span{{lo: end, hi: s.hi}}
		hi = end
	}
	if d := hi.Sub(lo); d > tick {
		mid := lo.Add(d / 2).Truncate(tick)
		out = append(out, span{lo: lo, hi: mid}, span{lo: mid, hi: hi})
	} else {
		out = append(out, span{lo: lo, hi: hi})
	}
	return append(out, after...), true
}
