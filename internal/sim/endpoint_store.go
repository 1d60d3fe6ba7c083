package sim

import (
	"fmt"
	"math/rand/v2"
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

// EndpointTenant is one tenant's alerts in the MDE alerts API, its injected
// faults and its rate-limit state. Get it with Server.Endpoint. Its methods
// are safe for concurrent use, also while the API serves the tenant.
type EndpointTenant struct {
	srv *Server
	id  string // as first given to Server.Endpoint

	mu               sync.Mutex // guards the fields below
	store            simapi.AlertStore[*endpointVersion]
	rng              *rand.Rand    // alert generation and updates
	simapi.FaultPlan               // queued and random faults (package simapi): Fail, SetFaultRates
	calls            simapi.Window // the requests counted by the rate limiter
	machines         []machine     // the generator's devices
}

// endpointVersion is immutable once stored, so a page can be written after
// the tenant's lock is released.
type endpointVersion struct {
	visibleAt  time.Time
	lastUpdate time.Time // zero when lastUpdateTime is null
	keys       alertKeys
	r          renderedAlert
}

func (v *endpointVersion) VisibleFrom() time.Time { return v.visibleAt }

// EndpointVersion describes one stored version of an alert, for test
// oracles.
type EndpointVersion struct {
	ID             string
	LastUpdateTime time.Time // zero when the version's lastUpdateTime is null
	VisibleAt      time.Time
}

// endpointState is the server-wide part of the MDE alerts API.
type endpointState struct {
	mu      sync.Mutex
	tenants map[string]*EndpointTenant // lower-case tenant ID
}

// Endpoint returns the tenant's alerts in the MDE alerts API, creating an
// empty store on first use. Tenant IDs compare case-insensitively; the API
// serves a request the store of its token's tid. Generated alerts carry the
// tenant ID as AddTenant was given it (as tokens carry it in tid), or as
// given here for a tenant the directory does not know.
func (s *Server) Endpoint(tenantID string) *EndpointTenant {
	key := strings.ToLower(tenantID)
	if id, ok := s.Service.TenantID(key); ok {
		tenantID = id
	}
	s.endpoint.mu.Lock()
	defer s.endpoint.mu.Unlock()
	if t, ok := s.endpoint.tenants[key]; ok {
		return t
	}
	rng, faultRNG := s.tenantRNGs(0, key)
	t := &EndpointTenant{
		srv:       s,
		id:        tenantID,
		store:     simapi.NewAlertStore[*endpointVersion](s.opaqueOrder),
		rng:       rng,
		FaultPlan: simapi.FaultPlan{RNG: faultRNG},
	}
	s.endpoint.tenants[key] = t
	return t
}

// The position of an alert in answers is opaqueOrder(id) (server.go):
// Microsoft documents no order for /api/alerts (get-alerts.md; the Graph and
// XDR incident docs say "most recent at the top", which clients must not
// assume here).

// Put stores a as a new version of the alert a.ID (a new alert when the id
// is unknown), visible from visibleAt (simulator time) on. The alert is
// stored exactly as given, except that its times are truncated to 100 ns,
// the precision the API serves. It panics when a.ID is empty.
func (t *EndpointTenant) Put(a EndpointAlert, visibleAt time.Time) {
	if a.ID == "" {
		panic("simulator: EndpointTenant.Put: alert without id")
	}
	v := newEndpointVersion(&a, visibleAt)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.store.Add(a.ID, v)
}

// newEndpointVersion truncates the alert's times (on copies: a's pointers
// may be shared with the caller) and renders it.
func newEndpointVersion(a *EndpointAlert, visibleAt time.Time) *endpointVersion {
	trunc := func(p **time.Time) {
		if *p != nil {
			c := (*p).UTC().Truncate(endpointTick)
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
		// Only unencodable values (none of EndpointAlert's types) could fail.
		panic(err)
	}
	v := &endpointVersion{visibleAt: visibleAt, keys: keysOf(a), r: r}
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
func (t *EndpointTenant) Update(id string, change func(*EndpointAlert), visibleAfter time.Duration) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.update(id, change, visibleAfter)
}

func (t *EndpointTenant) update(id string, change func(*EndpointAlert), visibleAfter time.Duration) error {
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
	now := t.srv.now().UTC().Truncate(endpointTick)
	if !prev.lastUpdate.IsZero() && !now.After(prev.lastUpdate) {
		now = prev.lastUpdate.Add(endpointTick)
	}
	a.LastUpdateTime = &now
	h.Revs = append(h.Revs, newEndpointVersion(&a, now.Add(visibleAfter)))
	return nil
}

// Latest returns the newest stored version of alert id, evidence included,
// whether or not it is visible yet, as the API serves it (times at 100 ns,
// nil slices as empty ones).
func (t *EndpointTenant) Latest(id string) (EndpointAlert, bool) {
	t.mu.Lock()
	h, ok := t.store.Alerts[id]
	var v *endpointVersion
	if ok {
		v = h.Latest()
	}
	t.mu.Unlock()
	if !ok {
		return EndpointAlert{}, false
	}
	a, err := v.r.decode()
	if err != nil {
		panic(fmt.Sprintf("simulator: stored alert %s does not decode: %v", id, err))
	}
	return a, true
}

// Versions returns every stored version of every alert: alerts in the order
// they were first stored, each alert's versions in the order stored.
func (t *EndpointTenant) Versions() []EndpointVersion {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []EndpointVersion
	for _, h := range t.store.Inserted {
		for _, v := range h.Revs {
			out = append(out, EndpointVersion{ID: h.ID, LastUpdateTime: v.lastUpdate, VisibleAt: v.visibleAt})
		}
	}
	return out
}

// Len is the number of alerts stored, visible or not.
func (t *EndpointTenant) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.store.Alerts)
}

// query returns the page of versions visible at now that match pred, after
// skipping skip of them, at most limit, and whether more matched.
func (t *EndpointTenant) query(now time.Time, pred func(*alertKeys) bool, skip, limit int64) ([]*endpointVersion, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ordered := t.store.InAnswerOrder()
	page := make([]*endpointVersion, 0, min(limit, int64(len(ordered))))
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
