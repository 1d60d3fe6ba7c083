package graph

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alertexport/alertexport/internal/sim/endpoint"
	"github.com/alertexport/alertexport/internal/sim/simapi"
)

// The incidents Graph's security incidents serves, per tenant. An incident
// groups Graph alerts of the same tenant (the tenant's Tenant, Graph-only
// alerts): each of its alerts has the incident's id as incidentId, and
// $expand=alerts shows them as alerts_v2 does. Every change is a new version
// of the incident with a later lastUpdateDateTime, visible from a chosen
// simulator time, as in the alert stores.

const (
	// DefaultIncidentExpandLimit is how many alerts an incident may have
	// before a filtered List incidents with $expand=alerts whose page holds
	// it fails: "more than 100", Elastic's estimate (elastic/integrations#18144,
	// #18277).
	DefaultIncidentExpandLimit = 100
	// DefaultIncidentStyleShare is the share of generated incidents written
	// in the form of one of List incidents' two examples instead of the
	// metadata's (see IncidentStyle). Choice: enough that a client meets
	// both forms in any run of some size.
	DefaultIncidentStyleShare = 0.1
)

// IncidentTenant is one tenant's incidents in Graph's security incidents,
// its injected faults and its rate-limit state. Get it with
// IncidentsAPI.Tenant (Server.Incidents in package sim). Its methods are safe
// for concurrent use, also while the API serves the tenant.
type IncidentTenant struct {
	srv   *IncidentsAPI
	id    string // as first given (or as AddTenant spelled it)
	key   string // lower-case tenant ID
	graph *Tenant

	// mu guards the fields below. Lock order: mu, then graph's lock; the
	// Graph tenant never calls back.
	mu               sync.Mutex
	store            simapi.AlertStore[*incidentRevision]
	rng              *rand.Rand
	simapi.FaultPlan                           // queued and random faults: Fail, SetFaultRates
	calls            map[string]*simapi.Window // per app: the limit is per app per tenant
	expandLimit      int                       // SetExpandLimit; <= 0: none
	styleShare       float64                   // SetStyleShare
	lastID           int64                     // the newest incident id handed out
	brokenGets       map[string]int            // BreakGet: incident id → HTTP status
}

// incidentRevision is an incident version as served, immutable once built.
type incidentRevision struct {
	visibleAt time.Time
	inc       Incident // a deep copy, never modified
	alerts    []string // ids of its Graph alerts, in the order they joined
	order     uint64   // OpaqueOrder(id): the order of incidents created at the same time
	keys      graphKeys
	head      []byte // as served with Prefer: include-unknown-enum-members, without the closing brace
	hidden    []byte // as served without it; nil when it is head
}

func (r *incidentRevision) VisibleFrom() time.Time { return r.visibleAt }

func (r *incidentRevision) served(includeUnknown bool) []byte {
	if includeUnknown || r.hidden == nil {
		return r.head
	}
	return r.hidden
}

// IncidentVersion describes one version of an incident as the API shows
// it, for test oracles.
type IncidentVersion struct {
	ID                 string
	LastUpdateDateTime time.Time
	// VisibleAt is when the API starts showing the version (simulator time).
	VisibleAt time.Time
	Status    string
	Alerts    int // how many alerts the version groups
}

// incidentsAPISalt separates the incidents' generators from the other
// parts' (TenantRNGs).
const incidentsAPISalt = 0x1c1d_e475

func (s *IncidentsAPI) newRevision(inc Incident, alerts []string, visibleAt time.Time) *incidentRevision {
	inc = inc.clone()
	inc.CreatedDateTime = inc.CreatedDateTime.UTC().Truncate(endpoint.Tick)
	inc.LastUpdateDateTime = inc.LastUpdateDateTime.UTC().Truncate(endpoint.Tick)
	for i := range inc.Comments {
		inc.Comments[i].CreatedTime = inc.Comments[i].CreatedTime.UTC().Truncate(endpoint.Tick)
	}
	r := &incidentRevision{visibleAt: visibleAt, inc: inc, alerts: slices.Clone(alerts), order: s.OpaqueOrder(inc.ID),
		keys: incidentKeysOf(&inc), head: inc.renderHead(true)}
	if inc.hidesMembers() {
		r.hidden = inc.renderHead(false)
	}
	return r
}

// Tenant returns the tenant's incidents, creating an empty store on first
// use. Tenant IDs compare case-insensitively; the API serves a request the
// incidents of its token's tid. The incidents' alerts are those of
// API.Tenant for the same tenant.
func (s *IncidentsAPI) Tenant(tenantID string) *IncidentTenant {
	key := strings.ToLower(tenantID)
	s.mu.Lock()
	t, ok := s.tenants[key]
	s.mu.Unlock()
	if ok {
		return t
	}
	g := s.graph.Tenant(tenantID) // taken before s.mu: no lock of Graph's under it
	rng, faultRNG := s.TenantRNGs(incidentsAPISalt, key)
	nt := &IncidentTenant{
		srv: s, id: g.id, key: key, graph: g,
		store:       simapi.NewAlertStore[*incidentRevision](s.OpaqueOrder),
		rng:         rng,
		FaultPlan:   simapi.FaultPlan{RNG: faultRNG},
		calls:       map[string]*simapi.Window{},
		expandLimit: DefaultIncidentExpandLimit,
		styleShare:  DefaultIncidentStyleShare,
		// Ids are numbers in the millions, as in the documented example
		// ("2972395"); where a tenant's start is seeded.
		lastID: 2_000_000 + rng.Int64N(1_000_000),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tenants[key]; ok {
		return t
	}
	s.tenants[key] = nt
	return nt
}

// SetExpandLimit sets how many alerts an incident may group before a List
// incidents request with both $expand=alerts and $filter whose page holds it
// answers 500 (elastic/integrations#18144); n <= 0 turns the failure off.
// The default is DefaultIncidentExpandLimit.
func (t *IncidentTenant) SetExpandLimit(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expandLimit = n
}

// BreakGet makes every Get incident of incident id answer status (500:
// generalException, 503: serviceNotAvailable, ...) until BreakGet(id, 0):
// the persistent failure of one incident's read, whatever a client retries.
// List incidents still shows the incident.
func (t *IncidentTenant) BreakGet(id string, status int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if status == 0 {
		delete(t.brokenGets, id)
		return
	}
	if t.brokenGets == nil {
		t.brokenGets = map[string]int{}
	}
	t.brokenGets[id] = status
}

// brokenGet is the status BreakGet set for incident id, 0 for none.
func (t *IncidentTenant) brokenGet(id string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.brokenGets[id]
}

// SetStyleShare sets the share (0 to 1) of incidents generated from now on
// that are written in the form of one of List incidents' examples
// (IncidentStylePascalCase or IncidentStyleTags, half each) instead of the
// metadata's. The default is DefaultIncidentStyleShare.
func (t *IncidentTenant) SetStyleShare(p float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.styleShare = min(max(p, 0), 1)
}

// Len is the number of incidents stored, visible or not.
func (t *IncidentTenant) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.store.Alerts)
}

// window is where app's requests to the tenant count: per app per tenant,
// apart from alerts_v2's.
func (t *IncidentTenant) window(app string) *simapi.Window {
	t.mu.Lock()
	defer t.mu.Unlock()
	app = strings.ToLower(app)
	w, ok := t.calls[app]
	if !ok {
		w = &simapi.Window{}
		t.calls[app] = w
	}
	return w
}

// bump is the lastUpdateDateTime of a new version: the simulator's now at
// 100 ns, or 100 ns after prev when now is not later, so that every version
// is strictly later than the one before.
func (t *IncidentTenant) bump(prev time.Time) time.Time {
	now := t.srv.Now().UTC().Truncate(endpoint.Tick)
	if !now.After(prev) {
		now = prev.Add(endpoint.Tick)
	}
	return now
}

// latestLocked is the newest stored version of incident id. t.mu must be held.
func (t *IncidentTenant) latestLocked(id string) (*incidentHistory, error) {
	h, ok := t.store.Alerts[id]
	if !ok {
		return nil, fmt.Errorf("simulator: incident %q not found in tenant %s", id, t.id)
	}
	return h, nil
}

// incidentHistory is one incident's versions.
type incidentHistory = simapi.History[*incidentRevision]

// AddAlert makes a new Graph alert join incident id (see AddAlerts).
func (t *IncidentTenant) AddAlert(id string, visibleAfter time.Duration) (string, error) {
	ids, err := t.AddAlerts(id, 1, visibleAfter)
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

// AddAlerts makes count new Graph alerts, drawn by the tenant's seeded
// generator, join incident id: the incident grows, in one new version whose
// lastUpdateDateTime is the simulator's now (see bump), as is the alerts';
// both are visible visibleAfter after it. It returns the alerts' ids. An
// incident merged into another takes no alerts.
func (t *IncidentTenant) AddAlerts(id string, count int, visibleAfter time.Duration) ([]string, error) {
	if count < 1 {
		return nil, fmt.Errorf("simulator: incident %q: %d alerts to add, want at least 1", id, count)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.addAlertsLocked(id, count, visibleAfter)
}

func (t *IncidentTenant) addAlertsLocked(id string, count int, visibleAfter time.Duration) ([]string, error) {
	h, err := t.latestLocked(id)
	if err != nil {
		return nil, err
	}
	prev := h.Latest()
	if prev.inc.Status == "redirected" {
		return nil, fmt.Errorf("simulator: incident %q was merged into %q: it takes no alerts", id, deref(prev.inc.RedirectIncidentID))
	}
	now := t.bump(prev.inc.LastUpdateDateTime)
	gen := t.generator()
	alerts := make([]Alert, count)
	visible := make([]time.Time, count)
	inc := prev.inc.clone()
	for i := range alerts {
		alerts[i] = gen.incidentAlert(id, inc.CreatedDateTime, now)
		visible[i] = now.Add(visibleAfter)
		inc.Severity = maxSeverity(inc.Severity, alerts[i].Severity)
	}
	ids, err := t.graph.addIncidentAlerts(alerts, visible)
	if err != nil {
		return nil, fmt.Errorf("simulator: incident %q: %w", id, err)
	}
	inc.LastUpdateDateTime = now
	h.Revs = append(h.Revs, t.srv.newRevision(inc, append(slices.Clone(prev.alerts), ids...), now.Add(visibleAfter)))
	return ids, nil
}

// Update applies change to the newest stored version of incident id (status,
// assignedTo, classification, determination, tags, comments, ...), sets its
// lastUpdateDateTime to the simulator's now (see bump) and stores the result
// as a new version visible visibleAfter after that. change runs with the
// tenant locked and must not call the tenant's methods; it must not change
// the id, and enum properties must stay members of their enums (lower camel
// case). Its alerts do not change; Merge moves them.
func (t *IncidentTenant) Update(id string, change func(*Incident), visibleAfter time.Duration) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.updateLocked(id, change, visibleAfter)
}

func (t *IncidentTenant) updateLocked(id string, change func(*Incident), visibleAfter time.Duration) error {
	h, err := t.latestLocked(id)
	if err != nil {
		return err
	}
	prev := h.Latest()
	inc := prev.inc.clone()
	if change != nil {
		change(&inc)
	}
	if inc.ID != id {
		return fmt.Errorf("simulator: incident %q: change set the id to %q", id, inc.ID)
	}
	if err := inc.validate(); err != nil {
		return fmt.Errorf("simulator: incident %q: %w", id, err)
	}
	inc.LastUpdateDateTime = t.bump(prev.inc.LastUpdateDateTime)
	h.Revs = append(h.Revs, t.srv.newRevision(inc, prev.alerts, inc.LastUpdateDateTime.Add(visibleAfter)))
	return nil
}

// validate checks the enum properties.
func (inc *Incident) validate() error {
	for _, p := range []struct {
		name, v string
		members []string
	}{{"severity", inc.Severity, graphSeverities}, {"status", inc.Status, incidentStatuses},
		{"classification", inc.Classification, graphClassifications}, {"determination", inc.Determination, graphDeterminations}} {
		if !slices.Contains(p.members, p.v) {
			return fmt.Errorf("%s %q is not a member of its enum (%s)", p.name, p.v, strings.Join(p.members, ", "))
		}
	}
	if inc.Style < IncidentStyleMetadata || inc.Style > IncidentStyleTags {
		return fmt.Errorf("unknown style %d", inc.Style)
	}
	return nil
}

// Merge merges incident from into incident into, as Defender's correlation
// does: from becomes status redirected with redirectIncidentId into, and its
// alerts move to into, each as a new alert version whose incidentId (and
// incidentWebUrl) is into's. Both incidents get a new version with the same
// lastUpdateDateTime (the simulator's now, later than both previous ones),
// visible visibleAfter after it, as are the alerts' new versions.
func (t *IncidentTenant) Merge(from, into string, visibleAfter time.Duration) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mergeLocked(from, into, visibleAfter)
}

func (t *IncidentTenant) mergeLocked(from, into string, visibleAfter time.Duration) error {
	if from == into {
		return fmt.Errorf("simulator: incident %q cannot be merged into itself", from)
	}
	hf, err := t.latestLocked(from)
	if err != nil {
		return err
	}
	hi, err := t.latestLocked(into)
	if err != nil {
		return err
	}
	pf, pi := hf.Latest(), hi.Latest()
	for _, p := range []*incidentRevision{pf, pi} {
		if p.inc.Status == "redirected" {
			return fmt.Errorf("simulator: incident %q was already merged into %q", p.inc.ID, deref(p.inc.RedirectIncidentID))
		}
	}
	now := t.bump(later(pf.inc.LastUpdateDateTime, pi.inc.LastUpdateDateTime))
	webURL := pi.inc.IncidentWebURL
	for _, aid := range pf.alerts {
		move := func(a *Alert) { a.IncidentID, a.IncidentWebURL = simapi.Ptr(into), simapi.Ptr(webURL) }
		if err := t.graph.Update(aid, move, visibleAfter); err != nil {
			return fmt.Errorf("simulator: merging incident %q into %q: %w", from, into, err)
		}
	}
	f := pf.inc.clone()
	f.Status, f.RedirectIncidentID, f.LastUpdateDateTime = "redirected", simapi.Ptr(into), now
	hf.Revs = append(hf.Revs, t.srv.newRevision(f, nil, now.Add(visibleAfter)))
	i := pi.inc.clone()
	i.Severity, i.LastUpdateDateTime = maxSeverity(i.Severity, f.Severity), now
	hi.Revs = append(hi.Revs, t.srv.newRevision(i, append(slices.Clone(pi.alerts), pf.alerts...), now.Add(visibleAfter)))
	return nil
}

// Latest returns the newest stored version of incident id, visible or not,
// and the ids of its alerts in the order they joined.
func (t *IncidentTenant) Latest(id string) (Incident, []string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h, ok := t.store.Alerts[id]
	if !ok {
		return Incident{}, nil, false
	}
	r := h.Latest()
	return r.inc.clone(), slices.Clone(r.alerts), true
}

// IDs lists the incidents' ids in the order they were created.
func (t *IncidentTenant) IDs() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.store.Inserted))
	for _, h := range t.store.Inserted {
		out = append(out, h.ID)
	}
	return out
}

// Versions returns every version the API has shown or will show: incidents
// in the order created, each incident's versions in order. A stored version
// that a later one replaces before it becomes visible is never shown and is
// not listed (as graph's Tenant.Versions).
func (t *IncidentTenant) Versions() []IncidentVersion {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []IncidentVersion
	for _, h := range t.store.Inserted {
		for i, r := range h.Revs {
			shown := true
			for _, later := range h.Revs[i+1:] {
				if !r.visibleAt.Before(later.visibleAt) {
					shown = false
					break
				}
			}
			if shown {
				out = append(out, IncidentVersion{ID: r.inc.ID, LastUpdateDateTime: r.inc.LastUpdateDateTime,
					VisibleAt: r.visibleAt, Status: r.inc.Status, Alerts: len(r.alerts)})
			}
		}
	}
	return out
}

// query returns the versions visible at now that match pred, in answer
// order: most recently created first ("The most recent incidents are
// displayed at the top of the list", security-list-incidents.md), incidents
// created at the same time in the opaque order. As in alerts_v2, pages are
// slices of this list, evaluated anew for each page.
func (t *IncidentTenant) query(now time.Time, pred func(*graphKeys) bool) []*incidentRevision {
	t.mu.Lock()
	var matched []*incidentRevision
	for _, h := range t.store.Inserted {
		if r := h.Visible(now); r != nil && (pred == nil || pred(&r.keys)) {
			matched = append(matched, r)
		}
	}
	t.mu.Unlock()
	slices.SortFunc(matched, func(a, b *incidentRevision) int {
		return cmp.Or(b.inc.CreatedDateTime.Compare(a.inc.CreatedDateTime), cmp.Compare(a.order, b.order), strings.Compare(a.inc.ID, b.inc.ID))
	})
	return matched
}

// visible is the newest version of incident id visible at now, or nil.
func (t *IncidentTenant) visible(id string, now time.Time) *incidentRevision {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h, ok := t.store.Alerts[id]; ok {
		return h.Visible(now)
	}
	return nil
}

func (t *IncidentTenant) currentExpandLimit() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.expandLimit
}

// addIncidentAlerts stores alerts as new Graph-only alerts, alert i visible
// from visibleAt[i]; an id already taken gets "0" appended, as Generate
// does. It returns the ids stored.
func (t *Tenant) addIncidentAlerts(alerts []Alert, visibleAt []time.Time) ([]string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ids := make([]string, 0, len(alerts))
	for i := range alerts {
		a := &alerts[i]
		for t.store.Alerts[a.ID] != nil {
			a.ID += "0"
		}
		r, err := t.srv.newGraphRevision(a, visibleAt[i])
		if err != nil {
			return ids, err
		}
		t.store.Add(a.ID, r)
		ids = append(ids, a.ID)
	}
	return ids, nil
}

// incidentAlerts returns the newest version visible at now of each
// Graph-only alert of ids, in the order of ids; an alert without a visible
// version is left out.
func (t *Tenant) incidentAlerts(ids []string, now time.Time) []*graphRevision {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*graphRevision, 0, len(ids))
	for _, id := range ids {
		if h, ok := t.store.Alerts[id]; ok {
			if r := h.Visible(now); r != nil {
				out = append(out, r)
			}
		}
	}
	return out
}

// maxSeverity is the higher of two alertSeverity members: an incident is as
// severe as its most severe alert.
func maxSeverity(a, b string) string {
	rank := func(s string) int {
		if s == unknownFutureValue {
			return -1
		}
		return slices.Index(graphSeverities, s)
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
