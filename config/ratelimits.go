package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// RateLimit is one call rate of an API, per tenant: at most Requests calls in any span of Per.
// In the file it is written "Requests/Per", e.g. "100/1m".
type RateLimit struct {
	Requests int
	Per      time.Duration
}

func (l RateLimit) String() string { return strconv.Itoa(l.Requests) + "/" + formatDuration(l.Per) }

// perSecond is the limit's sustained rate.
func (l RateLimit) perSecond() float64 { return float64(l.Requests) / l.Per.Seconds() }

// DocumentedRateLimits are Microsoft's documented call rates of a source's API: Defender for
// Endpoint List alerts 100 calls a minute and 1,500 an hour
// (learn.microsoft.com/defender-endpoint/api/get-alerts), Defender for Cloud Apps 30 requests a
// minute per tenant (defender-cloud-apps/api-introduction), Graph 150 requests a minute per app
// per tenant for "any operation on alert" (graph/throttling-limits). They are the default of
// rate_limits.
func DocumentedRateLimits(k SourceKind) []RateLimit {
	switch k {
	case Endpoint:
		return []RateLimit{{100, time.Minute}, {1500, time.Hour}}
	case CloudApps:
		return []RateLimit{{30, time.Minute}}
	case Graph:
		return []RateLimit{{150, time.Minute}}
	}
	return nil
}

// apiNames name each source's API in messages.
var apiNames = map[SourceKind]string{
	Endpoint:  "Defender for Endpoint",
	CloudApps: "Defender for Cloud Apps",
	Graph:     "Microsoft Graph alerts_v2",
}

// parseRateLimit reads one "N/duration" entry of rate_limits.
func parseRateLimit(s string) (RateLimit, error) {
	n, per, ok := strings.Cut(s, "/")
	if !ok {
		return RateLimit{}, errors.New(`is not "N/duration"`)
	}
	n, per = strings.TrimSpace(n), strings.TrimSpace(per)
	calls, err := strconv.Atoi(n)
	if err != nil {
		return RateLimit{}, fmt.Errorf("%s is not a whole number of calls", quote(n))
	}
	if calls <= 0 {
		return RateLimit{}, errors.New("the number of calls must be at least 1")
	}
	d, err := time.ParseDuration(per)
	if err != nil {
		hint := `a minute is "1m", an hour "1h"`
		if m := daysRE.FindStringSubmatch(per); m != nil {
			if days, err := strconv.Atoi(m[1]); err == nil && days < 1e6 {
				hint = fmt.Sprintf("durations have no days unit: write %q", strconv.Itoa(days*24)+"h")
			}
		}
		return RateLimit{}, fmt.Errorf("%s is not a duration (%s)", quote(per), hint)
	}
	if d <= 0 {
		return RateLimit{}, errors.New("the duration must be more than zero")
	}
	return RateLimit{Requests: calls, Per: d}, nil
}

// rateLimits checks a source's rate_limits; absent (nil), they are the documented ones. A limit
// above Microsoft's is a warning, not an error: Microsoft may raise a limit before this build
// knows it.
func (c *checker) rateLimits(key string, kind SourceKind, list []string) []RateLimit {
	documented := DocumentedRateLimits(kind)
	if list == nil {
		return documented
	}
	if len(list) == 0 {
		c.invalid(key, "empty: alertexport would call the API without any limit (remove the key for Microsoft's documented limits, %s)", formatLimits(documented))
		return documented
	}
	out := make([]RateLimit, 0, len(list))
	for _, s := range list {
		l, err := parseRateLimit(s)
		if err != nil {
			c.invalid(key, "%s: %v", quote(s), err)
			continue
		}
		out = append(out, l)
	}
	if len(out) < len(list) {
		return documented
	}
	c.aboveDocumented(key, kind, out, documented)
	return out
}

// aboveDocumented warns when limits let calls through faster, in the long run, than the
// documented limits allow: the API will then answer 429.
func (c *checker) aboveDocumented(key string, kind SourceKind, limits, documented []RateLimit) {
	if len(documented) == 0 {
		return
	}
	ours := math.Inf(1)
	for _, l := range limits {
		ours = min(ours, l.perSecond())
	}
	binding := documented[0]
	for _, d := range documented[1:] {
		if d.perSecond() < binding.perSecond() {
			binding = d
		}
	}
	if ours <= binding.perSecond()*(1+1e-9) {
		return
	}
	allowed := strconv.FormatFloat(math.Round(ours*binding.Per.Seconds()*10)/10, 'f', -1, 64)
	c.warnf(key, "let through %s calls per %s in the long run, more than Microsoft documents for the %s API (%s): the API will answer 429 (Too Many Requests) and the export will wait; fine only if Microsoft raised the limit",
		allowed, formatDuration(binding.Per), apiNames[kind], formatLimits(documented))
}

// formatLimits writes limits as the file does, without the brackets: "100/1m", "1500/1h".
func formatLimits(limits []RateLimit) string {
	q := make([]string, len(limits))
	for i, l := range limits {
		q[i] = quote(l.String())
	}
	return strings.Join(q, ", ")
}

// rateLimitStrings writes limits as rate_limits' value.
func rateLimitStrings(limits []RateLimit) []string {
	out := make([]string, len(limits))
	for i, l := range limits {
		out[i] = l.String()
	}
	return out
}
