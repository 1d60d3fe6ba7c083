package cloudapps

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alertexport/alertexport/internal/sim/simapi"
)

// The alert store of the Defender for Cloud Apps alerts API: per tenant,
// every alert with its history of revisions. A revision is the alert as the
// API would serve it (pre-rendered) and the simulator time from which the
// service's index shows it; a query sees, for each alert, its newest
// revision visible at the simulator's now. This models late indexing, as in
// the Endpoint part (package endpoint): Microsoft documents no bound on the
// lag, and tests choose it per revision.
//
// Cloud Apps alerts have no update time. The product's version of an alert
// (docs/messages.md) is its timestamp while it is open and its resolveTime once it
// is closed, so closing an alert makes a new version; marking it read
// changes what the API serves (statusValue) without making a new version.
// Both are revisions here; Versions lists the versions.

// Tenant is one tenant's alerts in the Defender for Cloud Apps
// alerts API, its injected faults, legacy API token and rate-limit state.
// Get it with API.Tenant (Server.CloudApps in package sim). Its methods are safe for concurrent use,
// also while the API serves the tenant.
type Tenant struct {
	srv *API
	id  string // as first given to API.Tenant (or AddTenant)
	key string // lower-case tenant ID

	mu               sync.Mutex // guards the fields below
	store            simapi.AlertStore[*Revision]
	rng              *rand.Rand // alert generation, closing
	simapi.FaultPlan            // queued and random faults (package simapi): Fail, SetFaultRates
	calls            simapi.Window
	idValue          int64 // the next idValue the generator gives
}

// Revision is immutable once stored, so a page can be written after the
// tenant's lock is released.
type Revision struct {
	visibleAt time.Time
	version   time.Time // timestamp while open, resolveTime once closed
	keys      cloudAppsKeys
	body      []byte // the alert's wire form
}

func (r *Revision) VisibleFrom() time.Time { return r.visibleAt }

// Version describes one version of an alert in the product's
// sense (timestamp while open, resolveTime once closed), for test oracles.
type Version struct {
	ID string
	// Version is the alert's timestamp while it is open, its resolveTime
	// once it is closed.
	Version time.Time
	// VisibleAt is when the first revision carrying this version became
	// (or becomes) visible to queries.
	VisibleAt time.Time
	// ResolutionStatus is the version's resolutionStatusValue: 0 while
	// open.
	ResolutionStatus int
}

// cloudAppsAPISalt separates the Cloud Apps generators from the Endpoint
// ones (tenantRNGs).
const cloudAppsAPISalt = 0xc10d_a995

// CloudApps returns the tenant's alerts in the Defender for Cloud Apps
// alerts API, creating an empty store on first use. Tenant IDs compare
// case-insensitively; the API serves a request the store of its token's
// tid (or of its legacy token). Generated alerts carry the tenant ID as
// AddTenant was given it, or as given here for a tenant the directory does
// not know.
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
	rng, faultRNG := s.TenantRNGs(cloudAppsAPISalt, key)
	t := &Tenant{
		srv:       s,
		id:        tenantID,
		key:       key,
		store:     simapi.NewAlertStore[*Revision](s.OpaqueOrder),
		rng:       rng,
		FaultPlan: simapi.FaultPlan{RNG: faultRNG},
	}
	// idValue counts alerts per tenant; the documented ones are around 15.7
	// million.
	t.idValue = 15_700_000 + rng.Int64N(300_000)
	s.tenants[key] = t
	return t
}

// SetLegacyToken makes the API accept "Authorization: Token <token>" for
// this tenant, the legacy API token that "has the privileges of the user
// who issued it" (api-tokens-legacy.md): it may list alerts. A tenant has
// at most one legacy token; "" removes it, and with none configured the
// API refuses every legacy token. It panics when token is used by another
// tenant or contains white space.
func (t *Tenant) SetLegacyToken(token string) {
	if strings.ContainsAny(token, " \t\r\n") {
		panic("simulator: Tenant.SetLegacyToken: token contains white space")
	}
	s := t.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if other, ok := s.legacy[token]; ok && other != t {
		panic(fmt.Sprintf("simulator: Tenant.SetLegacyToken: token already belongs to tenant %s", other.id))
	}
	for k, v := range s.legacy {
		if v == t {
			delete(s.legacy, k)
		}
	}
	if token != "" {
		s.legacy[token] = t
	}
}

// legacyTenant is the tenant whose legacy token this is, or nil.
func (s *API) legacyTenant(token string) *Tenant {
	s.mu.Lock()
	defer s.mu.Unlock()
	if token == "" {
		return nil
	}
	return s.legacy[token]
}

// Put stores a as a revision of the alert a.ID (a new alert when the id is
// unknown), visible from visibleAt (simulator time) on. The alert is stored
// as given, except that its times are truncated to the millisecond, the
// precision of the wire. Whether the revision is a new version depends on
// its version (see Version). It panics when a.ID is empty or an
// entity's numeric id is not a number.
func (t *Tenant) Put(a Alert, visibleAt time.Time) {
	if a.ID == "" {
		panic("simulator: Tenant.Put: alert without _id")
	}
	rev, err := newCloudAppsRevision(&a, visibleAt)
	if err != nil {
		panic(err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.store.Add(a.ID, rev)
}

// newCloudAppsRevision truncates the alert's times (ResolveTime on a copy: the
// pointer may be shared with the caller) and renders it.
func newCloudAppsRevision(a *Alert, visibleAt time.Time) (*Revision, error) {
	a.Timestamp = a.Timestamp.UTC().Truncate(time.Millisecond)
	if a.ResolveTime != nil {
		r := a.ResolveTime.UTC().Truncate(time.Millisecond)
		a.ResolveTime = &r
	}
	w, err := a.wire()
	if err != nil {
		return nil, err
	}
	body, err := simapi.EncodeWire(&w)
	if err != nil {
		return nil, fmt.Errorf("simulator: cloud apps alert %s: %w", a.ID, err)
	}
	return &Revision{visibleAt: visibleAt, version: a.VersionTime(), keys: cloudAppsKeysOf(a), body: body}, nil
}

// decodeLatest returns the newest revision of alert id, decoded. t.mu must
// be held.
func (t *Tenant) decodeLatest(id string) (Alert, *Revision, error) {
	h, ok := t.store.Alerts[id]
	if !ok {
		return Alert{}, nil, fmt.Errorf("simulator: cloud apps alert %q not found in tenant %s", id, t.id)
	}
	rev := h.Latest()
	var a Alert
	if err := a.UnmarshalJSON(rev.body); err != nil {
		return a, nil, fmt.Errorf("simulator: cloud apps alert %q: %w", id, err)
	}
	return a, rev, nil
}

// Close closes the open alert id as an analyst would, with
// resolutionStatus 1 (dismissed), 2 (resolved), 3 (false positive), 4
// (benign) or 5 (true positive): resolveTime is set to the simulator's now
// (in milliseconds, and at least 1 ms after the alert's timestamp, so the
// two versions never share a time), statusValue moves to READ (ARCHIVED for
// a dismissal), handledByUser and comment are set. The result is a new
// version, visible visibleAfter after its resolveTime. It fails when the
// alert is unknown or already closed, or resolutionStatus is not 1–5.
func (t *Tenant) Close(id string, resolutionStatus int, visibleAfter time.Duration) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.close(id, resolutionStatus, visibleAfter)
}

func (t *Tenant) close(id string, resolutionStatus int, visibleAfter time.Duration) error {
	if resolutionStatus < 1 || resolutionStatus > 5 {
		return fmt.Errorf("simulator: cloud apps alert %q: resolution status %d: want 1 to 5", id, resolutionStatus)
	}
	a, _, err := t.decodeLatest(id)
	if err != nil {
		return err
	}
	if a.ResolutionStatusValue != 0 {
		return fmt.Errorf("simulator: cloud apps alert %q is already closed (resolutionStatusValue %d)", id, a.ResolutionStatusValue)
	}
	now := t.srv.Now().UTC().Truncate(time.Millisecond)
	if !now.After(a.Timestamp) {
		now = a.Timestamp.Add(time.Millisecond)
	}
	t.generator().close(&a, resolutionStatus, now)
	rev, err := newCloudAppsRevision(&a, now.Add(visibleAfter))
	if err != nil {
		return err
	}
	t.store.Add(id, rev)
	return nil
}

// CloseRandom closes n distinct open alerts, chosen by the seeded
// generator, with random resolution statuses (see Close). It returns their
// ids, fewer when fewer alerts are open.
func (t *Tenant) CloseRandom(n int, visibleAfter time.Duration) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var open []string
	for _, h := range t.store.Inserted {
		if h.Latest().keys.resolution == 0 {
			open = append(open, h.ID)
		}
	}
	n = min(n, len(open))
	if n <= 0 {
		return nil
	}
	gen := t.generator()
	ids := make([]string, 0, n)
	for _, i := range t.rng.Perm(len(open))[:n] {
		if err := t.close(open[i], gen.resolution(), visibleAfter); err != nil {
			panic(err) // the alert is known and open
		}
		ids = append(ids, open[i])
	}
	return ids
}

// MarkRead sets the alert's statusValue to READ (1), as POST
// /api/v1/alerts/<id>/read/ does. This changes what the API serves but is
// not a new version (docs/messages.md): the product must not export the alert again.
// The change is visible from the simulator's now, or from when the newest
// revision becomes visible if that is later (a read mark does not make a
// pending close visible early). Marking a read alert read does nothing. It
// fails when the alert is unknown.
func (t *Tenant) MarkRead(id string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	a, latest, err := t.decodeLatest(id)
	if err != nil {
		return err
	}
	if a.StatusValue == 1 {
		return nil
	}
	a.StatusValue = 1
	rev, err := newCloudAppsRevision(&a, later(t.srv.Now(), latest.visibleAt))
	if err != nil {
		return err
	}
	t.store.Add(id, rev)
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Latest returns the newest stored revision of alert id, whether or not it
// is visible yet, as the API serves it (times in milliseconds, nil Entities
// and Stories as empty ones).
func (t *Tenant) Latest(id string) (Alert, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a, _, err := t.decodeLatest(id)
	if err != nil {
		if _, ok := t.store.Alerts[id]; ok {
			panic(err) // a stored alert always decodes
		}
		return Alert{}, false
	}
	return a, true
}

// Versions returns every version of every alert (a revision that only
// marks the alert read is not one): alerts in the order they were first
// stored, each alert's versions in the order stored.
func (t *Tenant) Versions() []Version {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Version
	for _, h := range t.store.Inserted {
		for i, r := range h.Revs {
			if i > 0 && r.version.Equal(h.Revs[i-1].version) {
				continue
			}
			out = append(out, Version{ID: h.ID, Version: r.version, VisibleAt: r.visibleAt, ResolutionStatus: r.keys.resolution})
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

// SetRetryAfter chooses whether the Cloud Apps API sends
// Retry-After with the 429 answers of its rate limit and of random
// throttle faults (see Options.CloudAppsRetryAfter).
func (s *API) SetRetryAfter(send bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retryAfter = send
}

// cloudAppsConfig returns whether 429s carry Retry-After, and where
// counting stops.
func (s *API) cloudAppsConfig() (bool, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.retryAfter, s.countCap
}

// query returns the revisions visible at now that match p, in p's order,
// after skipping p.skip of them, at most p.limit, and how many matched.
func (t *Tenant) query(now time.Time, p *cloudAppsParams) ([]*Revision, int) {
	t.mu.Lock()
	var matched []*Revision
	for _, h := range t.store.InAnswerOrder() {
		r := h.Visible(now)
		if r == nil || p.filter != nil && !p.filter(&r.keys) {
			continue
		}
		matched = append(matched, r)
	}
	t.mu.Unlock()

	if p.skip >= int64(len(matched)) {
		return nil, len(matched)
	}
	if p.sortField == "" {
		page := matched[p.skip:]
		return page[:min(int64(len(page)), p.limit)], len(matched)
	}
	// Stable: alerts with equal keys stay in the opaque order, which is unrelated to their ids
	// (see api.go).
	return simapi.SortedPage(matched, int(p.skip), int(min(p.limit, int64(len(matched)))), func(a, b *Revision) int {
		var c int
		switch p.sortField {
		case "severity":
			c = a.keys.severity - b.keys.severity
		default: // date
			c = compareInt64(a.keys.timestamp, b.keys.timestamp)
		}
		if p.desc {
			return -c
		}
		return c
	}), len(matched)
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Decode is the alert as the revision serves it.
func (r *Revision) Decode() (Alert, error) {
	var a Alert
	err := a.UnmarshalJSON(r.body)
	return a, err
}

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

// LatestRevisionWhere is the newest revision, visible or not, of the first
// alert in insertion order whose id match accepts; nil when none does.
func (t *Tenant) LatestRevisionWhere(match func(id string) bool) *Revision {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, h := range t.store.Inserted {
		if match(h.ID) {
			return h.Latest()
		}
	}
	return nil
}
