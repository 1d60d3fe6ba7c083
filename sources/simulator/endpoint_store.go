package simulator

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// The alert store of the MDE alerts API: per tenant, every alert with its
// history of versions. A version is the alert as the API would serve it at
// some point (pre-rendered, so that a 10,000-alert page is only a sequence of
// writes) and the simulator time at which the service's index starts showing
// it. Queries at time now see, for each alert, its newest stored version
// whose VisibleAt is not after now: an alert shows up only some time after
// its lastUpdateTime (late indexing), and right after an update the index
// may still serve the previous version. Microsoft documents no bound on
// that lag (research D #17); tests choose it per version.

// EndpointTenant is one tenant's alerts in the MDE alerts API, its injected
// faults and its rate-limit state. Get it with Server.Endpoint. Its methods
// are safe for concurrent use, also while the API serves the tenant.
type EndpointTenant struct {
	srv *Server
	id  string // as first given to Server.Endpoint

	mu       sync.Mutex // guards the fields below
	alerts   map[string]*endpointHistory
	inserted []*endpointHistory // insertion order: the seeded generator picks from it
	ordered  []*endpointHistory // answer order (see endpointOrder), sorted lazily
	sorted   bool
	rng      *rand.Rand // alert generation and updates
	faultRNG *rand.Rand // random faults, separate so faults do not shift the alerts
	faults   []queuedAPIFault
	rates    FaultRates
	calls    []time.Time // real times of the requests counted by the rate limiter
	machines []machine   // the generator's devices
}

type endpointHistory struct {
	id       string
	order    uint64
	versions []*endpointVersion // in the order stored; the last is the newest
}

// endpointVersion is immutable once stored, so a page can be written after
// the tenant's lock is released.
type endpointVersion struct {
	visibleAt  time.Time
	lastUpdate time.Time // zero when lastUpdateTime is null
	keys       alertKeys
	r          renderedAlert
}

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
	limits  []RateLimit
	salt    uint64 // per server, random: see endpointOrder
	seed    int64
}

// defaultSeed is used when Options.Seed is 0, so runs are reproducible.
const defaultSeed = 0x5eed_a1e7

// Endpoint returns the tenant's alerts in the MDE alerts API, creating an
// empty store on first use. Tenant IDs compare case-insensitively; the API
// serves a request the store of its token's tid. Generated alerts carry the
// tenant ID as AddTenant was given it (as tokens carry it in tid), or as
// given here for a tenant the directory does not know.
func (s *Server) Endpoint(tenantID string) *EndpointTenant {
	key := strings.ToLower(tenantID)
	s.mu.Lock()
	if dt, ok := s.dir.tenants[key]; ok {
		tenantID = dt.id
	}
	s.mu.Unlock()
	s.mde.mu.Lock()
	defer s.mde.mu.Unlock()
	if t, ok := s.mde.tenants[key]; ok {
		return t
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	ts := h.Sum64()
	t := &EndpointTenant{
		srv:      s,
		id:       tenantID,
		alerts:   map[string]*endpointHistory{},
		rng:      rand.New(rand.NewPCG(uint64(s.mde.seed), ts)),
		faultRNG: rand.New(rand.NewPCG(uint64(s.mde.seed)^0x9e3779b97f4a7c15, ts)),
	}
	s.mde.tenants[key] = t
	return t
}

// endpointOrder is the position of an alert in answers. Microsoft documents
// no order for /api/alerts (research A2; the Graph and XDR incident docs say
// "most recent at the top", which clients must not assume here). The
// simulator sorts by a hash of the alert id salted per server: stable across
// requests while the set is unchanged, so $skip pages over an unchanged set
// fit together, but uncorrelated with time and id, so a client that depends
// on any order fails here.
func (s *Server) endpointOrder(id string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], s.mde.salt)
	h.Write(b[:])
	h.Write([]byte(id))
	return h.Sum64()
}

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
	t.addVersion(a.ID, v)
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

// addVersion appends v to the alert's history. t.mu must be held.
func (t *EndpointTenant) addVersion(id string, v *endpointVersion) {
	h, ok := t.alerts[id]
	if !ok {
		h = &endpointHistory{id: id, order: t.srv.endpointOrder(id)}
		t.alerts[id] = h
		t.inserted = append(t.inserted, h)
		t.ordered = append(t.ordered, h)
		t.sorted = false
	}
	h.versions = append(h.versions, v)
}

func (h *endpointHistory) latest() *endpointVersion { return h.versions[len(h.versions)-1] }

// visible is the version a query at now sees, or nil.
func (h *endpointHistory) visible(now time.Time) *endpointVersion {
	for i := len(h.versions) - 1; i >= 0; i-- {
		if v := h.versions[i]; !v.visibleAt.After(now) {
			return v
		}
	}
	return nil
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
	h, ok := t.alerts[id]
	if !ok {
		return fmt.Errorf("simulator: endpoint alert %q not found in tenant %s", id, t.id)
	}
	prev := h.latest()
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
	h.versions = append(h.versions, newEndpointVersion(&a, now.Add(visibleAfter)))
	return nil
}

// Latest returns the newest stored version of alert id, evidence included,
// whether or not it is visible yet, as the API serves it (times at 100 ns,
// nil slices as empty ones).
func (t *EndpointTenant) Latest(id string) (EndpointAlert, bool) {
	t.mu.Lock()
	h, ok := t.alerts[id]
	var v *endpointVersion
	if ok {
		v = h.latest()
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
	for _, h := range t.inserted {
		for _, v := range h.versions {
			out = append(out, EndpointVersion{ID: h.id, LastUpdateTime: v.lastUpdate, VisibleAt: v.visibleAt})
		}
	}
	return out
}

// Len is the number of alerts stored, visible or not.
func (t *EndpointTenant) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.alerts)
}

// query returns the page of versions visible at now that match pred, after
// skipping skip of them, at most limit, and whether more matched.
func (t *EndpointTenant) query(now time.Time, pred func(*alertKeys) bool, skip, limit int64) ([]*endpointVersion, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.sorted {
		slices.SortFunc(t.ordered, func(a, b *endpointHistory) int {
			if a.order != b.order {
				if a.order < b.order {
					return -1
				}
				return 1
			}
			return strings.Compare(a.id, b.id)
		})
		t.sorted = true
	}
	page := make([]*endpointVersion, 0, min(limit, int64(len(t.ordered))))
	var matched int64
	for _, h := range t.ordered {
		v := h.visible(now)
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

// APIFault is an injected failure of an API request. It plays after the
// request has been authenticated and authorized (so a fault never hides a
// 401 or 403), and before the rate limits' verdict (the request still
// counts against them), in place of the normal answer. Fields combine: Delay first, then the
// first of Drop, Truncate, InvalidJSON and Status that is set; a fault with
// only Delay answers normally after the delay.
type APIFault struct {
	// Status answers with this HTTP status and the MDE error body (500, 503,
	// 429, 400, ...).
	Status int
	// RetryAfter sets Retry-After, in whole seconds rounded up, when > 0.
	RetryAfter time.Duration
	// Delay holds the request this long (or until the client gives up)
	// before the rest of the fault or the normal answer.
	Delay time.Duration
	// Truncate sends 200, the headers and about half of the normal body,
	// then cuts the connection (resets the stream over HTTP/2).
	Truncate bool
	// InvalidJSON sends 200 with the normal body made syntactically invalid
	// in the middle of value[].
	InvalidJSON bool
	// Drop closes the connection without answering.
	Drop bool
}

// FaultRates makes each authenticated request of the tenant fail at random
// (drawn from the tenant's seeded generator) when no queued fault applies.
// The rates are probabilities; their sum should not exceed 1.
type FaultRates struct {
	ServerError float64 // 500 InternalServerError
	Throttle    float64 // 429 TooManyRequests with Retry-After: 1
	Slow        float64 // answered normally after SlowDelay
	Truncate    float64 // body cut in the middle (see APIFault.Truncate)
	// SlowDelay is the delay of Slow answers; 0 means 10 s.
	SlowDelay time.Duration
}

const defaultSlowDelay = 10 * time.Second

type queuedAPIFault struct {
	n     int
	fault APIFault
}

// Fail makes the tenant's next n alert requests that pass authentication
// fail as f says. Calls queue up in order.
func (t *EndpointTenant) Fail(n int, f APIFault) {
	if n <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.faults = append(t.faults, queuedAPIFault{n: n, fault: f})
}

// SetFaultRates sets the rates of random faults; the zero value turns them
// off.
func (t *EndpointTenant) SetFaultRates(r FaultRates) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rates = r
}

// nextFault takes the fault for a request: a queued one, else a random one.
func (t *EndpointTenant) nextFault() (APIFault, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.faults) > 0 {
		f := t.faults[0].fault
		if t.faults[0].n--; t.faults[0].n == 0 {
			t.faults = t.faults[1:]
		}
		return f, true
	}
	r := t.rates
	if r == (FaultRates{}) {
		return APIFault{}, false
	}
	x := t.faultRNG.Float64()
	switch {
	case x < r.ServerError:
		return APIFault{Status: 500}, true
	case x < r.ServerError+r.Throttle:
		// Choice: Microsoft documents Retry-After in seconds but no value;
		// one second keeps randomly faulted runs short.
		return APIFault{Status: 429, RetryAfter: time.Second}, true
	case x < r.ServerError+r.Throttle+r.Slow:
		d := r.SlowDelay
		if d <= 0 {
			d = defaultSlowDelay
		}
		return APIFault{Delay: d}, true
	case x < r.ServerError+r.Throttle+r.Slow+r.Truncate:
		return APIFault{Truncate: true}, true
	}
	return APIFault{}, false
}

// RateLimit is one limit: at most Requests calls per sliding window of Per.
type RateLimit struct {
	Requests int
	Per      time.Duration
}

// DocumentedEndpointRateLimits are the limits get-alerts.md states for
// List alerts: "100 calls per minute and 1500 calls per hour".
func DocumentedEndpointRateLimits() []RateLimit {
	return []RateLimit{{Requests: 100, Per: time.Minute}, {Requests: 1500, Per: time.Hour}}
}

func validateRateLimits(limits []RateLimit) error {
	for _, l := range limits {
		if l.Requests < 1 || l.Per <= 0 {
			return fmt.Errorf("simulator: rate limit %d per %v: need at least 1 request per positive duration", l.Requests, l.Per)
		}
	}
	return nil
}

// SetEndpointRateLimits replaces the rate limits of the MDE alerts API, for
// every tenant; with no arguments there is no limit. Requests already
// counted stay counted. It panics on a limit with Requests < 1 or Per <= 0.
func (s *Server) SetEndpointRateLimits(limits ...RateLimit) {
	if err := validateRateLimits(limits); err != nil {
		panic(err)
	}
	s.mde.mu.Lock()
	defer s.mde.mu.Unlock()
	s.mde.limits = slices.Clone(limits)
}

func (s *Server) endpointRateLimits() []RateLimit {
	s.mde.mu.Lock()
	defer s.mde.mu.Unlock()
	return s.mde.limits
}

// admit counts a request made at now (real time) and returns how long the
// client must wait before a retry can succeed, 0 when this request is within
// every limit, with the limit that was hit.
//
// The windows slide over real time, not the simulator's clock: tests move
// the simulator's clock to date alerts and tokens, and a limit on that clock
// would throttle or release clients at the test's whim instead of at their
// own request rate. Every request that passes authentication and
// authorization counts, the ones answered 429 included (common-errors.md:
// resubmitting before Retry-After keeps you throttled), so a client that
// ignores Retry-After stays throttled. Choice: 401 and 403 answers do not
// count; the tenant of a request without a valid token is not known, and
// Microsoft does not say whether refused tokens count.
func (t *EndpointTenant) admit(now time.Time, limits []RateLimit) (time.Duration, RateLimit) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls = append(t.calls, now)
	// Keep at least an hour (the longest documented window) so that limits
	// set later with SetEndpointRateLimits see the calls made before.
	longest := time.Hour
	for _, l := range limits {
		longest = max(longest, l.Per)
	}
	// Drop what no window can see any more.
	drop := 0
	for drop < len(t.calls) && !t.calls[drop].After(now.Add(-longest)) {
		drop++
	}
	t.calls = t.calls[drop:]

	var wait time.Duration
	var hit RateLimit
	for _, l := range limits {
		from := now.Add(-l.Per)
		first, _ := slices.BinarySearchFunc(t.calls, from, func(c, target time.Time) int {
			if c.After(target) {
				return 1
			}
			return -1
		})
		inWindow := len(t.calls) - first
		if inWindow <= l.Requests {
			continue
		}
		// A retry succeeds once at most Requests-1 of these are left in the
		// window: when the (inWindow-Requests+1)-th oldest leaves it.
		leaves := t.calls[first+inWindow-l.Requests].Add(l.Per)
		if w := leaves.Sub(now); w > wait {
			wait, hit = w, l
		}
	}
	return wait, hit
}
