package graph

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alertexport/alertexport/internal/sim/cloudapps"
	"github.com/alertexport/alertexport/internal/sim/endpoint"
	"github.com/alertexport/alertexport/internal/sim/simapi"
)

// The alerts Graph's alerts_v2 serves, per tenant: a view over the tenant's
// Defender for Endpoint and Defender for Cloud Apps alerts (view.go
// converts their versions) plus Graph-only alerts of the other products
// (Defender for Identity, for Office 365, for Cloud, Entra ID Protection,
// ...), which have versions of their own. A version of the view becomes
// visible to Graph when it is visible in its own API, plus the tenant's
// Graph indexing delay (SetIndexingDelay); Graph-only versions carry their
// own visibility, as in the other stores.

// Tenant is one tenant's alerts in Graph's alerts_v2, its injected
// faults and its rate-limit state. Get it with API.Tenant (Server.Graph in package sim). Its methods are
// safe for concurrent use, also while the API serves the tenant.
type Tenant struct {
	srv       *API
	id        string // as first given (or as AddTenant spelled it)
	key       string // lower-case tenant ID
	endpoint  *endpoint.Tenant
	cloudApps *cloudapps.Tenant

	mu               sync.Mutex // guards the fields below
	store            simapi.AlertStore[*graphRevision]
	rng              *rand.Rand
	simapi.FaultPlan                           // queued and random faults (package simapi): Fail, SetFaultRates
	calls            map[string]*simapi.Window // per app: the limit is per app per tenant
	delay            time.Duration             // Graph's indexing delay for the view
	emptyPages       int                       // answers still to serve empty (EmptyPages)
	// The view's conversions, memoized: versions are immutable, so each is
	// converted once. A nil entry is a version Graph does not show.
	fromEndpoint  map[*endpoint.Revision]*graphRevision
	fromCloudApps map[*cloudapps.Revision]*graphRevision
}

// graphRevision is an alert version as Graph serves it, immutable once
// built, so a page can be written after the tenant's lock is released.
type graphRevision struct {
	visibleAt  time.Time // Graph-only alerts; the view's come from their own API
	lastUpdate time.Time
	id         string
	provider   string // providerAlertId
	source     string // serviceSource, as it is (not hidden)
	order      uint64 // opaqueOrder(id): the order of alerts updated at the same time
	keys       graphKeys
	body       []byte // as served with Prefer: include-unknown-enum-members
	hidden     []byte // as served without it; nil when it is body
}

func (r *graphRevision) VisibleFrom() time.Time { return r.visibleAt }

// served is the alert's JSON for a request that did or did not opt in to
// unknown enum members.
func (r *graphRevision) served(includeUnknown bool) []byte {
	if includeUnknown || r.hidden == nil {
		return r.body
	}
	return r.hidden
}

// newGraphRevision truncates the alert's times and renders it. It fails on
// an alert without lastUpdateDateTime: Graph orders and versions alerts by
// it.
func (s *API) newGraphRevision(a *Alert, visibleAt time.Time) (*graphRevision, error) {
	a.truncateTimes()
	if a.LastUpdateDateTime == nil {
		return nil, fmt.Errorf("simulator: graph alert %q has no lastUpdateDateTime", a.ID)
	}
	body, err := a.render(true)
	if err != nil {
		return nil, err
	}
	r := &graphRevision{visibleAt: visibleAt, lastUpdate: *a.LastUpdateDateTime, id: a.ID, provider: a.ProviderAlertID,
		source: a.ServiceSource, order: s.OpaqueOrder(a.ID), keys: graphKeysOf(a), body: body}
	if a.hidesMembers() {
		if r.hidden, err = a.render(false); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// decode turns a served alert back into a Alert.
func (r *graphRevision) decode() Alert {
	var a Alert
	if err := a.UnmarshalJSON(r.body); err != nil {
		panic(fmt.Sprintf("simulator: stored graph alert %s does not decode: %v", r.id, err))
	}
	return a
}

// Version describes one version of an alert as Graph shows it, for
// test oracles.
type Version struct {
	ID              string
	ProviderAlertID string
	// ServiceSource is the alert's serviceSource as it is, also when a
	// client that does not opt in to unknown enum members reads
	// unknownFutureValue.
	ServiceSource      string
	LastUpdateDateTime time.Time
	// VisibleAt is when Graph starts showing the version (simulator time):
	// for the Endpoint and Cloud Apps alerts, when it is visible there plus
	// the Graph indexing delay in force when Versions is called.
	VisibleAt time.Time
}

// graphAPISalt separates the Graph generators from the other parts' ones
// (tenantRNGs).
const graphAPISalt = 0x6a2a_9e11

// Graph returns the tenant's alerts in Graph's alerts_v2, creating an empty
// set of Graph-only alerts on first use. Tenant IDs compare
// case-insensitively; the API serves a request the alerts of its token's
// tid. The view covers the tenant's Endpoint and CloudApps stores, whether
// they were filled before or after this call.
func (s *API) Tenant(tenantID string) *Tenant {
	key := strings.ToLower(tenantID)
	if id, ok := s.entra.TenantID(key); ok {
		tenantID = id
	}
	s.mu.Lock()
	t, ok := s.tenants[key]
	s.mu.Unlock()
	if ok {
		return t
	}
	// The other parts' stores are taken before locking graph.mu, so no
	// lock of theirs is ever held under it.
	ep, cloudApps := s.endpoint.Tenant(tenantID), s.cloudApps.Tenant(tenantID)
	rng, faultRNG := s.TenantRNGs(graphAPISalt, key)
	nt := &Tenant{
		srv: s, id: tenantID, key: key, endpoint: ep, cloudApps: cloudApps,
		store:         simapi.NewAlertStore[*graphRevision](s.OpaqueOrder),
		rng:           rng,
		FaultPlan:     simapi.FaultPlan{RNG: faultRNG},
		calls:         map[string]*simapi.Window{},
		fromEndpoint:  map[*endpoint.Revision]*graphRevision{},
		fromCloudApps: map[*cloudapps.Revision]*graphRevision{},
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tenants[key]; ok {
		return t // another caller made it meanwhile
	}
	s.tenants[key] = nt
	return nt
}

// Put stores a as a new version of the Graph-only alert a.ID (a new alert
// when the id is unknown), visible from visibleAt (simulator time) on. The
// alert is stored as given, except that its times are truncated to 100 ns,
// the precision the API serves. It panics when a.ID is empty,
// a.LastUpdateDateTime is nil, or a raw JSON value (evidence properties,
// dictionaries) is not valid JSON. Alerts of the Endpoint and Cloud Apps parts
// are put into those parts, not here; an id that collides with one of
// theirs makes Graph serve both.
func (t *Tenant) Put(a Alert, visibleAt time.Time) {
	if a.ID == "" {
		panic("simulator: Tenant.Put: alert without id")
	}
	r, err := t.srv.newGraphRevision(&a, visibleAt)
	if err != nil {
		panic(err)
	}
	if !json.Valid(r.body) {
		panic(fmt.Sprintf("simulator: Tenant.Put: alert %s: evidence properties or dictionaries are not valid JSON", a.ID))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.store.Add(a.ID, r)
}

// Update applies change to the newest stored version of the Graph-only
// alert id, sets its lastUpdateDateTime to the simulator's now (truncated to
// 100 ns, and 100 ns after the previous one if it would not be later) and
// stores the result as a new version visible visibleAfter after that
// lastUpdateDateTime. change runs with the tenant locked and must not call
// the tenant's methods; it must not change the id. The view's alerts change
// in their own parts (endpoint.Tenant.Update, cloudapps.Tenant.Close).
func (t *Tenant) Update(id string, change func(*Alert), visibleAfter time.Duration) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.update(id, change, visibleAfter)
}

func (t *Tenant) update(id string, change func(*Alert), visibleAfter time.Duration) error {
	h, ok := t.store.Alerts[id]
	if !ok {
		return fmt.Errorf("simulator: graph-only alert %q not found in tenant %s (alerts of the Endpoint and Cloud Apps parts change there)", id, t.id)
	}
	prev := h.Latest()
	a := prev.decode()
	if change != nil {
		change(&a)
	}
	if a.ID != id {
		return fmt.Errorf("simulator: graph alert %q: change set the id to %q", id, a.ID)
	}
	now := t.srv.Now().UTC().Truncate(endpoint.Tick)
	if !now.After(prev.lastUpdate) {
		now = prev.lastUpdate.Add(endpoint.Tick)
	}
	a.LastUpdateDateTime = &now
	r, err := t.srv.newGraphRevision(&a, now.Add(visibleAfter))
	if err != nil {
		return err
	}
	h.Revs = append(h.Revs, r)
	return nil
}

// SetIndexingDelay sets how long after a version of an Endpoint or Cloud
// Apps alert becomes visible in its own API Graph starts showing it; 0 (the
// default) shows it at the same moment. It applies to queries from now on,
// to every version, including those already stored.
func (t *Tenant) SetIndexingDelay(d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.delay = max(d, 0)
}

// EmptyPages makes the tenant's next n answers that have alerts to serve
// answer with none, and an @odata.nextLink to the same position instead.
// Graph's paging guide allows it ("A page of results may contain zero or
// more results"), and a client that stops at an empty page loses the rest.
func (t *Tenant) EmptyPages(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.emptyPages += max(n, 0)
}

func (t *Tenant) takeEmptyPage() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.emptyPages == 0 {
		return false
	}
	t.emptyPages--
	return true
}

// window is where app's requests to the tenant count: Graph's limit is per
// app per tenant.
func (t *Tenant) window(app string) *simapi.Window {
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

// Len is the number of Graph-only alerts stored, visible or not.
func (t *Tenant) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.store.Alerts)
}

// visible returns the versions Graph shows at now: for each alert the
// newest version visible, when Graph shows that version at all.
func (t *Tenant) visible(now time.Time) []*graphRevision {
	t.mu.Lock()
	delay := t.delay
	t.mu.Unlock()
	at := now.Add(-delay)
	// The other parts' newest visible revisions, taken under their locks
	// (never together with t.mu), converted under t.mu.
	endpoint := t.endpoint.VisibleRevisions(at)
	cloudApps := t.cloudApps.VisibleRevisions(at)

	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*graphRevision, 0, len(t.store.Inserted)+len(endpoint)+len(cloudApps))
	for _, h := range t.store.Inserted {
		if r := h.Visible(now); r != nil {
			out = append(out, r)
		}
	}
	for _, v := range endpoint {
		if r := t.viewOfEndpoint(v); r != nil {
			out = append(out, r)
		}
	}
	for _, v := range cloudApps {
		if r := t.viewOfCloudApps(v); r != nil {
			out = append(out, r)
		}
	}
	return out
}

// query returns the versions visible at now that match pred, in answer
// order: most recently updated first ("The most recent alerts are displayed
// at the top of the list", security-list-alerts_v2.md), alerts updated at
// the same time in the opaque order. Pages are slices of this list, so a
// version that moves (an update puts it on top) or appears while a client
// pages shifts the positions of the others, as with any offset cursor.
func (t *Tenant) query(now time.Time, pred func(*graphKeys) bool) []*graphRevision {
	all := t.visible(now)
	matched := all[:0]
	for _, r := range all {
		if pred == nil || pred(&r.keys) {
			matched = append(matched, r)
		}
	}
	slices.SortFunc(matched, func(a, b *graphRevision) int {
		return cmp.Or(b.lastUpdate.Compare(a.lastUpdate), cmp.Compare(a.order, b.order), strings.Compare(a.id, b.id))
	})
	return matched
}

// Latest returns the newest version Graph has of alert id (a Graph-only
// alert, or one of the view: an Endpoint alert has the same id, a Cloud
// Apps alert an id of its own, see package sim's doc), whether or not it is visible
// yet, as the API serves it to a client that opted in to unknown enum
// members. It reports false when Graph does not know the id, or does not
// show the alert's newest version (an Endpoint alert without an incident).
func (t *Tenant) Latest(id string) (Alert, bool) {
	t.mu.Lock()
	if h, ok := t.store.Alerts[id]; ok {
		r := h.Latest()
		t.mu.Unlock()
		return r.decode(), true
	}
	t.mu.Unlock()

	if mv := t.endpoint.LatestRevision(id); mv != nil {
		t.mu.Lock()
		r := t.viewOfEndpoint(mv)
		t.mu.Unlock()
		if r == nil {
			return Alert{}, false
		}
		return r.decode(), true
	}

	cv := t.cloudApps.LatestRevisionWhere(func(caID string) bool { return t.srv.cloudAppsGraphID(t.key, caID) == id })
	if cv == nil {
		return Alert{}, false
	}
	t.mu.Lock()
	r := t.viewOfCloudApps(cv)
	t.mu.Unlock()
	if r == nil {
		return Alert{}, false
	}
	return r.decode(), true
}

// Versions returns every version Graph has shown or will show: Graph-only
// alerts first, then the Endpoint alerts, then the Cloud Apps alerts, each
// in the order first stored, each alert's versions in order. A stored
// version that a later one replaces before it becomes visible is never
// shown and is not listed; revisions that leave lastUpdateDateTime as it
// was (a Cloud Apps alert marked read) are the same version; an Endpoint
// alert's versions without an incident are not shown.
func (t *Tenant) Versions() []Version {
	t.mu.Lock()
	delay := t.delay
	t.mu.Unlock()
	endpoint, cloudApps := t.endpoint.Histories(), t.cloudApps.Histories()

	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Version
	for _, h := range t.store.Inserted {
		at := make([]time.Time, len(h.Revs))
		for i, r := range h.Revs {
			at[i] = r.visibleAt
		}
		out = appendShown(out, at, h.Revs)
	}
	for _, revs := range endpoint {
		at := make([]time.Time, len(revs))
		conv := make([]*graphRevision, len(revs))
		for i, v := range revs {
			at[i], conv[i] = v.VisibleFrom().Add(delay), t.viewOfEndpoint(v)
		}
		out = appendShown(out, at, conv)
	}
	for _, revs := range cloudApps {
		at := make([]time.Time, len(revs))
		conv := make([]*graphRevision, len(revs))
		for i, v := range revs {
			at[i], conv[i] = v.VisibleFrom().Add(delay), t.viewOfCloudApps(v)
		}
		out = appendShown(out, at, conv)
	}
	return out
}

// appendShown appends the versions of one alert that are ever the newest
// visible: revision i is, when it becomes visible before every later one
// (at equal times the later revision wins, as in history.visible). A nil
// revision is a version Graph does not show.
func appendShown(out []Version, at []time.Time, revs []*graphRevision) []Version {
	n := len(revs)
	shown := make([]bool, n)
	for i := n - 1; i >= 0; i-- {
		first := true
		for j := i + 1; j < n; j++ {
			if !at[i].Before(at[j]) {
				first = false
				break
			}
		}
		shown[i] = first && revs[i] != nil
	}
	var last *Version
	for i, r := range revs {
		if !shown[i] {
			continue
		}
		if last != nil && last.LastUpdateDateTime.Equal(r.lastUpdate) {
			continue
		}
		out = append(out, Version{ID: r.id, ProviderAlertID: r.provider, ServiceSource: r.source,
			LastUpdateDateTime: r.lastUpdate, VisibleAt: at[i]})
		last = &out[len(out)-1]
	}
	return out
}
