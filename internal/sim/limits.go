package sim

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/alertexport/alertexport/internal/sim/simapi"
	"github.com/alertexport/alertexport/sources/apis"
)

// The names of the simulated Defender APIs: APIRequest.API, and the keys of
// Options.RateLimits and Server.SetRateLimits.
const (
	APIEndpoint  = "endpoint"  // the Defender for Endpoint alerts API (apis.Endpoint.Name)
	APICloudApps = "cloudapps" // the Defender for Cloud Apps alerts API (apis.CloudApps.Name)
	APIGraph     = "graph"     // Microsoft Graph's security alerts_v2 (apis.Graph.Name)
	APIIncidents = "incidents" // Microsoft Graph's security incidents (apis.Incidents.Name)
)

// simulatedAPIs are the facts of every API the simulator serves, one part
// each in Server.newParts (TestSimulatedAPIsMatchParts keeps the two
// together). It is not apis.All: that lists the APIs alertexport reads, and
// the simulator may serve an API before the product reads it (incidents).
func simulatedAPIs() []apis.API {
	return []apis.API{apis.Endpoint, apis.CloudApps, apis.Graph, apis.Incidents}
}

// DocumentedRateLimits returns the rate limits Microsoft documents for api
// (APIEndpoint, APICloudApps, APIGraph or APIIncidents), as the API registry
// (sources/apis) records them with their sources; nil for an unknown name.
func DocumentedRateLimits(api string) []simapi.RateLimit {
	for _, a := range simulatedAPIs() {
		if a.Name == api {
			return slices.Clone(a.Limits)
		}
	}
	return nil
}

// limitTable is the rate limits in force, by API name.
type limitTable struct {
	documented map[string][]simapi.RateLimit // never modified after newLimitTable

	mu    sync.Mutex
	byAPI map[string][]simapi.RateLimit
}

// newLimitTable starts each of parts with the limits opts chooses for it,
// by name, or with its documented ones.
func newLimitTable(parts []simapi.API, opts map[string]simapi.RateLimits) (*limitTable, error) {
	t := &limitTable{documented: map[string][]simapi.RateLimit{}, byAPI: map[string][]simapi.RateLimit{}}
	for _, p := range parts {
		t.documented[p.Facts().Name] = slices.Clone(p.Facts().Limits)
	}
	for api := range opts {
		if _, ok := t.documented[api]; !ok {
			return nil, fmt.Errorf("simulator: rate limits for unknown API %q: want one of %s", api, t.names())
		}
	}
	for api, documented := range t.documented {
		rules, err := opts[api].Resolve(api, documented) // the zero RateLimits is Documented
		if err != nil {
			return nil, err
		}
		t.byAPI[api] = rules
	}
	return t, nil
}

func (t *limitTable) names() string {
	names := make([]string, 0, len(t.documented))
	for api := range t.documented {
		names = append(names, api)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// SetRateLimits replaces the rate limits of api for every tenant (Graph's
// apply per app per tenant). Requests already counted stay counted. It
// panics on an unknown API or a limit with Requests < 1 or Per <= 0: both
// are mistakes in the test that calls it.
func (s *Server) SetRateLimits(api string, limits simapi.RateLimits) {
	documented, ok := s.limits.documented[api]
	if !ok {
		panic(fmt.Sprintf("simulator: SetRateLimits: unknown API %q: want one of %s", api, s.limits.names()))
	}
	rules, err := limits.Resolve(api, documented)
	if err != nil {
		panic(err)
	}
	s.limits.mu.Lock()
	defer s.limits.mu.Unlock()
	s.limits.byAPI[api] = rules
}

// rateLimits is the limits of api in force. The slice is never modified
// after it is stored, so callers may read it unlocked.
func (s *Server) rateLimits(api string) []simapi.RateLimit {
	s.limits.mu.Lock()
	defer s.limits.mu.Unlock()
	return s.limits.byAPI[api]
}

// faultPlan is the fault plan of api in tenantID (created on first use,
// as Endpoint, CloudApps, Graph and Incidents do).
func (s *Server) faultPlan(api, tenantID string) *simapi.FaultPlan {
	for _, p := range s.parts {
		if p.Facts().Name == api {
			return p.FaultPlan(tenantID)
		}
	}
	panic(fmt.Sprintf("simulator: unknown API %q: want one of %s", api, s.limits.names()))
}

// Fail makes the next n requests of tenantID to api that pass
// authentication and authorization fail as f says (see APIFault), the same
// as the tenant's own Fail. It panics on an unknown API.
func (s *Server) Fail(api, tenantID string, n int, f APIFault) {
	s.faultPlan(api, tenantID).Fail(n, f)
}

// SetFaultRates sets the random faults of tenantID's requests to api, the
// same as the tenant's own SetFaultRates. It panics on an unknown API.
func (s *Server) SetFaultRates(api, tenantID string, r FaultRates) {
	s.faultPlan(api, tenantID).SetFaultRates(r)
}

// MostInWindow is the most of the sorted times that any window of length per holds, its ends
// included: how a rate limit of per's window sees calls arriving at those times (the worst case
// of windows (t−per, t] and [t, t+per)).
func MostInWindow(times []time.Time, per time.Duration) int {
	most, j := 0, 0
	for i := range times {
		for times[i].Sub(times[j]) > per {
			j++
		}
		most = max(most, i-j+1)
	}
	return most
}
