// Package graph exports Microsoft Graph security alerts (GET /v1.0/security/alerts_v2), the API
// Microsoft names as the successor of the Defender for Endpoint and Defender for Cloud Apps
// alert APIs: it polls on lastUpdateDateTime, follows @odata.nextLink, and normalizes each alert
// version to the envelope. Graph's security incidents (incidents.go) are read the same way, one
// message per incident version.
//
// Why one open-ended question per poll: nextLink skiptokens hold a position in a list that is
// evaluated anew for every page (learn.microsoft.com/graph/api/security-list-alerts-v2; the
// simulator's doc). In a set that only grows — lastUpdateDateTime ≥ L, and a serviceSource that
// never changes — an alert present from the first page to the last can only move down (an alert
// updated or added goes in above it, an updated one leaves from above or below it), so a pass that
// follows the links to the end reads every such alert at least once: moved ones show up twice
// (dropped as seen), and an alert updated meanwhile is read at its new version by the next poll.
// Any upper bound, or a filter on something that changes (severity, status), would let alerts leave
// the set and shift others past the reader; min_severity is therefore applied here, not by the API.
package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
const Name = "graph"

// tick is the API's time resolution: up to 7 fractional digits.
const tick = 100 * time.Nanosecond

// maxRequests bounds one poll's pages: 10 million alerts, far beyond a tenant's retention.
const maxRequests = 10_000

// maxContinue bounds how far back a first poll continues from the older sources: their
// checkpoints stay in the store after they are disabled, and one left from months ago must not
// make Graph re-read months.
const maxContinue = 30 * 24 * time.Hour

// dateSkew is how far the cursor stays behind the Date of the pass's first answer (which has
// whole seconds).
const dateSkew = time.Second

// Options tunes a Source (the shared options of the page-reading sources).
type Options = sources.Options

// Source polls one tenant's alerts_v2, or its incidents (NewIncidents): the same service,
// paged and filtered alike.
type Source struct {
	api     *httpclient.API
	name    string   // the source's name: Name or IncidentsName
	listURL string   // the collection
	base    *url.URL // scheme and host a nextLink must keep: the token goes nowhere else
	// decode reads one page's items into the poll, and returns its other members.
	decode func(p *poll, ctx context.Context, body io.Reader) (map[string]json.RawMessage, error)
	// afterPage, when set, finishes the page's items once the page is read (incidents: their
	// alerts).
	afterPage func(p *poll, ctx context.Context) error
	// byCreation: the collection lists the most recently created first (incidents, as
	// documented), not the most recently updated, so a pass is not expected to go from newer
	// versions to older ones.
	byCreation bool
	id         sources.Identity
	lookback   time.Duration
	startFrom  time.Duration
	services   string   // the serviceSource clause, "" for all
	below      []string // severities min_severity excludes (checked here, see the package doc)
	opts       Options
	// continueFrom, when set, tells from when the tenant's older sources (endpoint, cloudapps)
	// would read next (see ContinueFrom).
	continueFrom func(ctx context.Context) (time.Time, error)
}

// ContinueFrom gives the source where the tenant's older sources (endpoint, cloudapps) stand:
// from tells the oldest of their checkpoints' cursors less each one's lookback (zero when they
// have none). A first poll reaches back to it when that is earlier than start_from (by at most
// maxContinue), so that switching a tenant to Graph leaves no gap (docs/migrating-to-graph.md).
func (s *Source) ContinueFrom(from func(ctx context.Context) (time.Time, error)) {
	s.continueFrom = from
}

// New returns the source of a tenant's graph job with settings s. api carries the HTTP client, the
// token source and the tenant's limiter.
func New(s apis.Settings, api *httpclient.API, o Options) *Source {
	src := newSource(apis.Graph, "/v1.0/security/alerts_v2", s, api, o)
	src.decode = func(p *poll, ctx context.Context, body io.Reader) (map[string]json.RawMessage, error) {
		return page.DecodeInto(body, "value", func(raw []byte, a *alert, derr error) error { return p.takeDecoded(ctx, raw, a, derr) },
			page.Ahead(), page.Need("@odata.nextLink"), page.Log(src.opts.Logger.With("tenant", src.id.Tenant, "source", src.name)))
	}
	var clauses []string
	for _, ss := range s.ServiceSources {
		clauses = append(clauses, "serviceSource eq '"+strings.ReplaceAll(ss, "'", "''")+"'")
	}
	if len(clauses) > 0 {
		src.services = "(" + strings.Join(clauses, " or ") + ")"
	}
	return src
}

// newSource is what the sources of the Graph collections share: the client, the collection's
// URL under api_url, and min_severity (applied here, see the package doc).
func newSource(facts apis.API, path string, s apis.Settings, api *httpclient.API, o Options) *Source {
	o = o.WithDefaults(facts.PageCap)
	a := *api
	if a.Forbidden == "" {
		a.Forbidden = fmt.Sprintf("give app %s the application permission %s of Microsoft Graph (API permissions → Microsoft Graph → Application permissions) and grant admin consent; `alertexport auth check` shows the roles the token carries", s.ClientID, facts.Roles[0])
	}
	// Evolvable enums: without this, values Microsoft added later (serviceSource
	// microsoftDefenderForCloud, incident status awaitingAction, …) read "unknownFutureValue".
	a.Header = http.Header{"Prefer": {"include-unknown-enum-members"}}
	src := &Source{
		api:       &a,
		name:      facts.Name,
		listURL:   strings.TrimSuffix(s.APIURL, "/") + path,
		id:        sources.Identity{Tenant: s.Tenant, TenantID: s.TenantID},
		lookback:  s.Lookback,
		startFrom: s.StartFrom,
		opts:      o,
	}
	src.base, _ = url.Parse(src.listURL) // config checked it is a URL
	for _, sev := range []string{"informational", "low", "medium", "high"} {
		if sev == s.MinSeverity {
			break
		}
		if s.MinSeverity != "" {
			src.below = append(src.below, sev)
		}
	}
	return src
}

// poll is one run of Poll or Backfill.
type poll struct {
	src           *Source
	sources.Admit                     // queues what it reads (Rules: Skip, Held, Remember)
	cp            sources.Checkpoint  // the working copy, handed to emit at the end
	prev          time.Time           // the cursor the poll started from
	lower         time.Time           // lastUpdateDateTime ≥ lower
	until         time.Time           // backfill: versions at or after it are left out; zero = none
	taken         *sources.VersionSet // versions taken in by this pass (cp.Seen keeps only the lookback's)
	requests      int
	newest        time.Time // the newest lastUpdateDateTime read at or after lower
	oldest        time.Time // the oldest version newly taken so far: the pass should only go down
	date          time.Time // the service's clock at the pass's first answer (its Date, see sources.Horizon)
	horizon       *sources.Horizon
	dirty         bool // Seen changed since the poll began
	// unordered counts versions newly taken that were newer than one taken before them.
	unordered int
	// stuck is the oldest version this pass read but could not finish (an incident whose alerts
	// could not be read): the cursor stays at or before it, so the next poll reads it again.
	stuck time.Time
	// listed are the incidents of the page just read that wait for their alerts.
	listed []listed
}

// newPoll starts a poll from cp.
func (s *Source) newPoll(cp sources.Checkpoint, emit sources.Emit) *poll {
	p := &poll{src: s, cp: cp.Clone(), prev: cp.Cursor, taken: sources.NewVersionSet(), horizon: sources.NewHorizon(s.opts.Now)}
	p.Admit = sources.Admit{Outbox: sources.Outbox{Emit: emit, Logger: s.opts.Logger}, Tenant: s.id.Tenant, Source: s.name, Options: s.opts,
		State: &p.cp, Strays: sources.NewStraySet(cp.Strays), Exported: sources.NewIDSet(), Below: s.below, Batch: s.opts.BatchSize, NoVersion: errNoVersion}
	return p
}

// Poll implements sources.Source.
func (s *Source) Poll(ctx context.Context, cp sources.Checkpoint, emit sources.Emit) error {
	p := s.newPoll(cp, emit)
	switch {
	case !cp.Cursor.IsZero():
		p.lower = cp.Cursor.Add(-s.lookback) // ge, never gt: equal timestamps and late alerts
	case !cp.Origin.IsZero():
		p.lower = cp.Origin // no alert seen yet: keep reaching back to where the job began
	default:
		p.lower = s.opts.Now().UTC().Round(0).Add(-s.startFrom).Truncate(tick)
		if s.continueFrom != nil {
			from, err := s.continueFrom(ctx)
			if err != nil {
				return fmt.Errorf("tenant %q: graph: reading where the older sources stand: %w", s.id.Tenant, err)
			}
			switch limit := s.opts.Now().Add(-maxContinue); {
			case from.IsZero() || !from.Before(p.lower):
			case from.Before(limit):
				s.opts.Logger.Warn("the older sources' checkpoints are older than 30 days; the first Graph poll reaches back start_from only (use backfill for more)",
					"tenant", s.id.Tenant, "older_from", from, "start_from", p.lower)
			default:
				s.opts.Logger.Info("first Graph poll continues from the older sources' checkpoints", "tenant", s.id.Tenant, "from", from)
				p.lower = from.UTC().Truncate(tick)
			}
		}
		// Saved before anything is read: a first poll that fails still fixes where the job
		// began, instead of letting it slide with the clock.
		p.cp.Origin = p.lower
		if err := p.Flush(ctx, &p.cp); err != nil {
			return err
		}
	}
	err := p.pass(ctx)
	s.opts.ReportHorizon(s.id.Tenant, s.name, p.horizon)
	if err != nil {
		return err
	}
	// Everything visible at or after lower is read: the cursor moves to the newest version read
	// (exported or not: one min_severity leaves out counts too, or a tenant of low alerts would
	// re-read ever more) — but not past the service's clock when the pass began. Results are
	// assumed newest first; if they are not (the order is not documented), a version made while
	// the pass paged may sit behind later-read newer ones, and this cap makes the next poll read
	// it. The cap also keeps a version dated in the future from carrying the cursor.
	cursor := p.cp.Cursor
	newest := p.newest
	// Strays held back while the clocks disagreed, read again now that they may carry the
	// cursor, are ordinary versions from here on.
	if t := p.Strays.Promote(p.cp.Seen, p.lower, p.horizon.Limit()); t.After(newest) {
		newest, p.dirty = t, true
	}
	if !p.date.IsZero() && newest.After(p.date.Add(-dateSkew)) {
		newest = p.date.Add(-dateSkew)
	}
	if !p.stuck.IsZero() && newest.After(p.stuck) {
		newest = p.stuck
	}
	if newest.After(cursor) {
		cursor = newest
	}
	if p.unordered > 0 && !s.byCreation {
		s.opts.Logger.Warn("Graph answered out of the newest-first order alertexport assumes; the cursor was held at the service's clock", "tenant", s.id.Tenant, "times", p.unordered)
	}
	if cursor.Equal(p.cp.Cursor) && !p.dirty {
		return p.Flush(ctx, nil) // an idle poll writes no checkpoint
	}
	p.cp.Cursor = cursor
	p.cp.Seen.Prune(cursor.Add(-s.lookback))
	p.cp.Strays = p.Strays.Saved(true)
	return p.Flush(ctx, &p.cp)
}

// Backfill exports every alert whose lastUpdateDateTime is in [since, until) again, as it is
// now, with the live export's message IDs; it hands over no checkpoint (the live ones stay).
// It asks the open-ended question too (see the package doc) and leaves out what is newer.
func (s *Source) Backfill(ctx context.Context, since, until time.Time, emit sources.Emit) error {
	p := s.newPoll(sources.Checkpoint{}, func(ctx context.Context, b sources.Batch) error {
		b.Checkpoint = nil
		return emit(ctx, b)
	})
	p.lower, p.until = since.UTC().Truncate(tick), until.UTC()
	if err := p.pass(ctx); err != nil {
		return err
	}
	return p.Flush(ctx, nil)
}

// pass reads lastUpdateDateTime ≥ lower, following nextLink to the end.
func (p *poll) pass(ctx context.Context) error {
	s := p.src
	filter := "lastUpdateDateTime ge " + p.lower.UTC().Format("2006-01-02T15:04:05.0000000Z")
	if s.services != "" {
		filter += " and " + s.services
	}
	next := s.listURL + "?" + url.Values{"$filter": {filter}, "$top": {strconv.Itoa(s.opts.PageSize)}}.Encode()
	for next != "" {
		if p.requests++; p.requests > maxRequests {
			return fmt.Errorf("tenant %q: %s API: gave up after %d pages in one poll; the API's nextLinks do not end", s.id.Tenant, s.name, maxRequests)
		}
		u := next
		err := s.api.GetWith(ctx, u, func(resp *http.Response, body io.Reader) error {
			next = ""
			p.horizon.Observe(resp.Header)
			if p.date.IsZero() {
				p.date = p.horizon.Now() // the Date, else the local clock
			}
			rest, err := s.decode(p, ctx, body)
			if err != nil {
				if err, ok := sources.Unbroken(err); ok {
					return err
				}
				return &httpclient.BodyError{Err: err}
			}
			if raw, ok := rest["@odata.nextLink"]; ok {
				if next, err = s.nextLink(raw); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if s.afterPage != nil {
			if err := s.afterPage(p, ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// nextLink checks a page's @odata.nextLink: a URL on the API's own scheme and host (the token
// is sent to it). It may name the page just read: an empty page can link to the same position.
func (s *Source) nextLink(raw json.RawMessage) (string, error) {
	var link string
	if err := json.Unmarshal(raw, &link); err != nil {
		return "", &httpclient.BodyError{Err: fmt.Errorf("@odata.nextLink is not a string: %w", err)}
	}
	u, err := url.Parse(link)
	if err != nil || u.Scheme != s.base.Scheme || u.Host != s.base.Host {
		shown := link
		if u != nil {
			shown = u.Scheme + "://" + u.Host + u.Path
		}
		return "", fmt.Errorf("tenant %q: %s API: @odata.nextLink %q is not on %s://%s; alertexport sends its token only there", s.id.Tenant, s.name, shown, s.base.Scheme, s.base.Host)
	}
	return link, nil
}

// take handles one alert of a page: decode, skip what was exported, normalize, queue.
func (p *poll) take(ctx context.Context, raw []byte) error {
	var a alert
	err := page.Unmarshal(raw, &a)
	return p.takeDecoded(ctx, raw, &a, err)
}

// takeDecoded is take for an alert the page decoder has decoded already (err: how that failed).
func (p *poll) takeDecoded(ctx context.Context, raw []byte, a *alert, err error) error {
	v := sources.Version{Raw: raw, Err: page.ItemErr(raw, err), Cursor: p.prev}
	if v.Err != nil {
		v.ID, v.Time, v.Dated = page.Version(raw, "lastUpdateDateTime")
		return p.Take(ctx, p, v, nil)
	}
	if a.ID != "" && a.LastUpdateDateTime != nil {
		v.ID, v.Time, v.Dated = a.ID, a.LastUpdateDateTime.UTC(), true
	}
	if a.Severity != nil {
		v.Severity = *a.Severity // min_severity, applied here (see the package doc)
	}
	v.Preexisting = a.CreatedDateTime != nil && a.CreatedDateTime.Before(p.lower)
	return p.Take(ctx, p, v, func(event string) (envelope.Envelope, error) { return normalize(a, raw, p.src.id, event) })
}

// Held implements sources.Rules: a version may not move the cursor when it is dated before
// 2000 or past the API's clock (sources.Held), or below the filter's bound (an API that did
// not filter as documented). It notes the version's time too (see note).
func (p *poll) Held(t time.Time) string {
	why := sources.Held(t, p.horizon.Limit(), t.Before(p.lower))
	p.note(t, why)
	return why
}

// note takes in the time of a version read for the first time: the newest read, and whether
// the pass still goes from newer to older as assumed. A version that may not move the cursor
// (held says why) tells nothing of either.
func (p *poll) note(t time.Time, held string) {
	p.dirty = true
	if held != "" {
		return
	}
	if t.After(p.newest) {
		p.newest = t
	}
	if !p.oldest.IsZero() && t.After(p.oldest) {
		p.unordered++
	}
	if p.oldest.IsZero() || t.Before(p.oldest) {
		p.oldest = t
	}
}

// Skip implements sources.Rules: this version was exported already, or is past a backfill's
// end. (One below the filter's bound, which an API that did not filter as documented may send,
// is exported: it cannot move the cursor, see Held.)
func (p *poll) Skip(id string, t time.Time) bool {
	return p.taken.Has(id, t) || p.Known(id, t) || !p.until.IsZero() && !t.Before(p.until)
}

// Remember implements sources.Rules: it records an exported version in the pass's set, and in
// the checkpoint's Seen only when it can be within the lookback of the cursor the pass will end
// on. That cursor is at least min(newest read, Date − skew), which only grows as the pass reads
// on, so a version left out now would be pruned at the end anyway. A large first pass so keeps
// about 30 bytes an alert instead of the 220 of a Seen entry.
func (p *poll) Remember(id string, t time.Time, held string) error {
	p.taken.Add(id, t)
	if held != "" { // a stray: kept apart (sources.StraySet), reported
		return p.Keep(id, t, held, p.horizon.Limit())
	}
	if p.src.afterPage != nil {
		// Incidents: the cursor may end held at one the pass could not finish (p.stuck), below
		// any bound known now; they are few, so Seen keeps them all until the end prunes it.
		p.cp.Seen.Add(id, t)
		return nil
	}
	least := p.newest
	if !p.date.IsZero() && least.After(p.date.Add(-dateSkew)) {
		least = p.date.Add(-dateSkew)
	}
	if least.Before(p.prev) {
		least = p.prev
	}
	if !t.Before(least.Add(-p.src.lookback)) {
		p.cp.Seen.Add(id, t)
	}
	return nil
}

var errNoVersion = sources.NoVersion("id or no lastUpdateDateTime, so it has no version to export")
