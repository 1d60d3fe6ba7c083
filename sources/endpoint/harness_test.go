package endpoint

import (
	"net/http"
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/sourcetest"
)

const mde = "https://api.securitycenter.microsoft.com"

// fixture is a simulated tenant (sourcetest) with its Defender for Endpoint alerts at hand.
type fixture struct {
	*sourcetest.World
	ep *sim.EndpointTenant
}

// setup configures a fixture; fields left zero take sourcetest's defaults.
type setup struct {
	minSeverity string
	lookback    string
	roles       []string        // the app's roles on Defender for Endpoint; nil = Alert.Read.All
	rateLimits  []sim.RateLimit // nil = none (tests that want Microsoft's pass them)
}

func newFixture(t testing.TB, s setup) *fixture {
	t.Helper()
	st := sourcetest.Setup{Lookback: s.lookback, MinSeverity: s.minSeverity, Options: sim.Options{RateLimits: map[string]sim.RateLimits{sim.APIEndpoint: sim.LimitTo(s.rateLimits...)}}}
	if s.roles != nil {
		st.Roles = map[string][]string{mde: s.roles}
	}
	w := sourcetest.New(t, st)
	return &fixture{World: w, ep: w.Sim.Endpoint(sourcetest.TenantID)}
}

// newSource builds the source under test the way the worker will, but without the client-side
// limiter (TestClientLimiter has it), which would make tests of many polls slow.
func (f *fixture) newSource(o Options) *Source {
	if o.Now == nil {
		o.Now = f.Clock.Now
	}
	return New(f.Tenant.Settings(f.Tenant.Source(Name)), f.API(Name, f.Tenant.Source(Name)), o)
}

// visible is the oracle: the version of each alert a query at the simulator's current time
// shows (the newest version already indexed).
func (f *fixture) visible() map[string]time.Time {
	now := f.Clock.Now()
	out := map[string]time.Time{}
	for _, v := range f.ep.Versions() {
		if v.VisibleAt.After(now) {
			continue
		}
		if cur, ok := out[v.ID]; !ok || v.LastUpdateTime.After(cur) {
			out[v.ID] = v.LastUpdateTime
		}
	}
	return out
}

// msgID is the message ID of an endpoint alert version of the test tenant.
func msgID(id string, t time.Time) string { return envelope.MsgID("contoso", Name, id, t) }

// hostile is a source whose API answers with answer, on the simulator's TLS server (see
// sourcetest.World.Hostile), with options o (Now: the simulator's clock unless set).
func (f *fixture) hostile(t *testing.T, answer http.HandlerFunc, o Options) *Source {
	t.Helper()
	s := f.Tenant.Source(Name)
	s.APIURL = f.Hostile(t, "GET /api/alerts", answer)
	if o.Now == nil {
		o.Now = f.Clock.Now
	}
	return New(f.Tenant.Settings(s), f.API(Name, s), o)
}
