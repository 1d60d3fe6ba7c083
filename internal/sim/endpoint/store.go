package endpoint

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alertexport/alertexport/internal/sim/simapi"
)

// The alert store of the MDE alerts API: per tenant, every alert with its
// history of versions. A version is the alert as the API would serve it at
// some point (pre-rendered, so that a 10,000-alert page is only a sequence of
// writes) and the simulator time at which the service's index starts showing
// it. Queries at time now see, for each alert, its newest stored version
// whose VisibleAt is not after now: an alert shows up only some time after
// its lastUpdateTime (late indexing), and right after an update the index
// may still serve the previous version. Microsoft documents no bound on
// that lag; tests choose it per version.

// Tenant is one tenant's alerts in the MDE alerts API, its injected
// faults and its rate-limit state. Get it with API.Tenant (Server.Endpoint in package sim). Its methods
// are safe for concurrent use, also while the API serves the tenant.
type Tenant struct {
	srv *API
	id  string // as first given to API.Tenant

	mu               sync.Mutex // guards the fields below
	store            simapi.AlertStore[*Revision]
	rng              *rand.Rand    // alert generation and updates
	simapi.FaultPlan               // queued and random faults (package simapi): Fail, SetFaultRates
	calls            simapi.Window // the requests counted by the rate limiter
	machines         []machine     // the generator's devices
}

// Revision is immutable once stored, so a page can be written after
// the tenant's lock is released.
type Revision struct {
	visibleAt  time.Time
	lastUpdate time.Time // zero when lastUpdateTime is null
	keys       alertKeys
	r          renderedAlert
}

func (v *Revision) VisibleFrom() time.Time { return v.visibleAt }

// Version describes one stored version of an alert, for test
// oracles.
type Version struct {
	ID             string
	LastUpdateTime time.Time // zero when the version's lastUpdateTime is null
	VisibleAt      time.Time
}

// Tenant returns the tenant's alerts in the MDE alerts API, creating an
// empty store on first use. Tenant IDs compare case-insensitively; the API
// serves a request the store of its token's tid. Generated alerts carry the
// tenant ID as AddTenant was given it (as tokens carry it in tid), or as
// given here for a tenant the directory does not know.
func (s *API) Tenant(tenantID string) *Tenant {
	key := strings.ToLower(tenantID)
	if id, ok := s.entra.TenantID(key); ok {
		tenantID = id
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tenants[key]; ok {
		return t
	}
	rng, faultRNG := s.TenantRNGs(0, key)
	t := &Tenant{
		srv:       s,
		id:        tenantID,
		store:     simapi.NewAlertStore[*Revision](s.OpaqueOrder),
		rng:       rng,
		FaultPlan: simapi.FaultPlan{RNG: faultRNG},
	}
	s.tenants[key] = t
	return t
}

// The position of an alert in answers is Host.OpaqueOrder(id) (package simapi):
// Microsoft documents no order for /api/alerts (get-alerts.md; the Graph and
// XDR incident docs say "most recent at the top", which clients must not
// assume here).

// Put stores a as a new version of the alert a.ID (a new alert when the id
// is unknown), visible from visibleAt (simulator time) on. The alert is
// stored exactly as given, except that its times are truncated to 100 ns,
// the precision the API serves. It panics when a.ID is empty.
func (t *Tenant) Put(a Alert, visibleAt time.Time) {
	if a.ID == "" {
		panic("simulator: Tenant.Put: alert without id")
	}
	v := newEndpointVersion(&a, visibleAt)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.store.Add(a.ID, v)
}

// newEndpointVersion truncates the alert's times (on copies: a's pointers
// may be shared with the caller) and renders it.
func newEndpointVersion(a *Alert, visibleAt time.Time) *Revision {
	trunc := func(p **time.Time) {
		if *p != nil {
			c := (*p).UTC().Truncate(Tick)
			*p = &c
		}
	}
	trunc(&a.AlertCreationTime)
	trunc(&a.FirstEventTime)
	trunc(&a.LastEventTime)
	trunc(&a.LastUpdateTime)
	trunc(&a.ResolvedTime)
	r, err := renderAlert(a)
	if err != nil {
		// Only unencodable values (none of Alert's types) could fail.
		panic(err)
	}
	v := &Revision{visibleAt: visibleAt, keys: keysOf(a), r: r}
	if a.LastUpdateTime != nil {
		v.lastUpdate = *a.LastUpdateTime
	}
	return v
}

// Update applies change to the newest stored version of alert id, sets its
// lastUpdateTime to the simulator's now (truncated to 100 ns, and 100 ns
// after the previous lastUpdateTime if it would not be later) and stores the
// result as a new version visible visibleAfter after that lastUpdateTime.
// change runs with the tenant locked and must not call the tenant's methods;
// it must not change the id.
func (t *Tenant) Update(id string, change func(*Alert), visibleAfter time.Duration) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.update(id, change, visibleAfter)
}

func (t *Tenant) update(id string, change func(*Alert), visibleAfter time.Duration) error {
	h, ok := t.store.Alerts[id]
	if !ok {
		return fmt.Errorf("simulator: endpoint alert %q not found in tenant %s", id, t.id)
	}
	prev := h.Latest()
	a, err := prev.r.decode()
	if err != nil {
		return fmt.Errorf("simulator: endpoint alert %q: %w", id, err)
	}
	if change != nil {
		change(&a)
	}
	if a.ID != id {
		return fmt.Errorf("simulator: endpoint alert %q: change set the id to %q", id, a.ID)
	}
	now := t.srv.Now().UTC().Truncate(Tick)
	if !prev.lastUpdate.IsZero() && !now.After(prev.lastUpdate) {
		now = prev.lastUpdate.Add(Tick)
	}
	a.LastUpdateTime = &now
	h.Revs = append(h.Revs, newEndpointVersion(&a, now.Add(visibleAfter)))
	return nil
}

// Latest returns the newest stored version of alert id, evidence included,
// whether or not it is visible yet, as the API serves it (times at 100 ns,
// nil slices as empty ones).
func (t *Tenant) Latest(id string) (Alert, bool) {
	t.mu.Lock()
	h, ok := t.store.Alerts[id]
	var v *Revision
	if ok {
		v = h.Latest()
	}
	t.mu.Unlock()
	if !ok {
		return Alert{}, false
	}
	a, err := v.r.decode()
	if err != nil {
		panic(fmt.Sprintf("simulator: stored alert %s does not decode: %v", id, err))
	}
	return a, true
}

// Versions returns every stored version of every alert: alerts in the order
// they were first stored, each alert's versions in the order stored.
func (t *Tenant) Versions() []Version {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Version
	for _, h := range t.store.Inserted {
		for _, v := range h.Revs {
			out = append(out, Version{ID: h.ID, LastUpdateTime: v.lastUpdate, VisibleAt: v.visibleAt})
		}
	}
	return out
}

// Len is the number of alerts stored, visible or not.
func (t *Tenant) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.store.Alerts)
}

// query returns the page of versions visible at now that match pred, after
// skipping skip of them, at most limit, and whether more matched.
func (t *Tenant) query(now time.Time, pred func(*alertKeys) bool, skip, limit int64) ([]*Revision, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ordered := t.store.InAnswerOrder()
	page := make([]*Revision, 0, min(limit, int64(len(ordered))))
	var matched int64
	for _, h := range ordered {
		v := h.Visible(now)
		if v == nil || pred != nil && !pred(&v.keys) {
			continue
		}
		matched++
		if matched <= skip {
			continue
		}
		if int64(len(page)) == limit {
			return page, true
		}
		page = append(page, v)
	}
	return page, false
}

// Decode is the alert as the revision serves it.
func (v *Revision) Decode() (Alert, error) { return v.r.decode() }

// Histories copies the revisions of every alert, in insertion order, for a
// view of the tenant's alerts (Graph's) to read without the tenant's lock.
func (t *Tenant) Histories() [][]*Revision {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([][]*Revision, 0, len(t.store.Inserted))
	for _, h := range t.store.Inserted {
		out = append(out, slices.Clone(h.Revs))
	}
	return out
}

// VisibleRevisions is, in insertion order, each alert's newest revision a
// query at now sees.
func (t *Tenant) VisibleRevisions(now time.Time) []*Revision {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*Revision
	for _, h := range t.store.Inserted {
		if v := h.Visible(now); v != nil {
			out = append(out, v)
		}
	}
	return out
}

// LatestRevision is the newest revision of alert id, visible or not; nil
// for an unknown id.
func (t *Tenant) LatestRevision(id string) *Revision {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h, ok := t.store.Alerts[id]; ok {
		return h.Latest()
	}
	return nil
}
