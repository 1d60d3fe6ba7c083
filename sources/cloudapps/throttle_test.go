package cloudapps

import (
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/sources/httpclient"
	"github.com/alertexport/alertexport/sources/sourcetest"
)

// TestThrottleWaitDefault: without Retry-After, a throttled answer holds the tenant back for
// the longest window of its limits (the documented minute by default, a second when the limits
// are scaled down 60 times); a wait the caller chose stays.
func TestThrottleWaitDefault(t *testing.T) {
	tests := []struct {
		name    string
		limiter *httpclient.Limiter
		set     time.Duration
		want    time.Duration
	}{
		{"no limiter: the documented minute", nil, 0, time.Minute},
		{"the documented limit", httpclient.NewLimiter(httpclient.Limit{Requests: 30, Per: time.Minute}), 0, time.Minute},
		{"scaled down 60 times", httpclient.NewLimiter(httpclient.Limit{Requests: 30, Per: time.Second}), 0, time.Second},
		{"the longest window", httpclient.NewLimiter(httpclient.Limit{Requests: 30, Per: time.Minute}, httpclient.Limit{Requests: 500, Per: time.Hour}), 0, time.Hour},
		{"set by the caller", httpclient.NewLimiter(httpclient.Limit{Requests: 30, Per: time.Minute}), 5 * time.Second, 5 * time.Second},
	}
	f := newFixture(t, sourcetest.Setup{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := f.API(Name, f.Tenant.Source(Name))
			api.Limiter, api.ThrottleWait = tt.limiter, tt.set
			if got := New(f.Tenant.Settings(f.Tenant.Source(Name)), api, Options{}).api.ThrottleWait; got != tt.want {
				t.Errorf("ThrottleWait = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestThrottleWaitFollowsTheLimits: against the real client, a 429 without Retry-After is asked
// again only after the limits' longest window, and one with Retry-After after that.
func TestThrottleWaitFollowsTheLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		limits []httpclient.Limit
		fault  sim.APIFault
		want   time.Duration
	}{
		{"no Retry-After: the window", []httpclient.Limit{{Requests: 1000, Per: 600 * time.Millisecond}}, sim.APIFault{Status: 429}, 600 * time.Millisecond},
		{"no Retry-After: the longest window", []httpclient.Limit{{Requests: 1000, Per: 200 * time.Millisecond}, {Requests: 5000, Per: 900 * time.Millisecond}}, sim.APIFault{Status: 429}, 900 * time.Millisecond},
		{"a body saying throttled", []httpclient.Limit{{Requests: 1000, Per: 600 * time.Millisecond}}, sim.APIFault{Status: 403, Throttled: true}, 600 * time.Millisecond},
		{"Retry-After wins", []httpclient.Limit{{Requests: 1000, Per: 200 * time.Millisecond}}, sim.APIFault{Status: 429, RetryAfter: time.Second}, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, sourcetest.Setup{})
			f.ca.Generate(150, sim.CloudAppsGenerate{From: f.Clock.Now().Add(-time.Hour), To: f.Clock.Now()})
			f.ca.Fail(1, tt.fault)
			api := f.API(Name, f.Tenant.Source(Name))
			api.Limiter = httpclient.NewLimiter(tt.limits...)
			e := sourcetest.NewExporter(t, New(f.Tenant.Settings(f.Tenant.Source(Name)), api, Options{Now: f.Clock.Now}))
			e.MustPoll(t)
			e.CheckExactlyOnce(t, Name, f.visible())
			reqs := f.Requests(Name)
			if len(reqs) < 2 {
				t.Fatalf("requests: %+v", reqs)
			}
			if gap := reqs[1].Time.Sub(reqs[0].Time); gap < tt.want || gap > tt.want+5*time.Second {
				t.Errorf("asked again after %v, want %v (and not much more)", gap, tt.want)
			}
		})
	}
}
