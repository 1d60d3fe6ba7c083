package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/alertexport/alertexport/sources/apis"
)

// parseRateLimit reads one "N/duration" entry of rate_limits.
func parseRateLimit(s string) (apis.Limit, error) {
	n, per, ok := strings.Cut(s, "/")
	if !ok {
		return apis.Limit{}, errors.New(`is not "N/duration"`)
	}
	n, per = strings.TrimSpace(n), strings.TrimSpace(per)
	calls, err := strconv.Atoi(n)
	if err != nil {
		return apis.Limit{}, fmt.Errorf("%s is not a whole number of calls", quote(n))
	}
	if calls <= 0 {
		return apis.Limit{}, errors.New("the number of calls must be at least 1")
	}
	d, err := time.ParseDuration(per)
	if err != nil {
		hint := `a minute is "1m", an hour "1h"`
		if m := daysRE.FindStringSubmatch(per); m != nil {
			if days, err := strconv.Atoi(m[1]); err == nil && days < 1e6 {
				hint = fmt.Sprintf("durations have no days unit: write %q", strconv.Itoa(days*24)+"h")
			}
		}
		return apis.Limit{}, fmt.Errorf("%s is not a duration (%s)", quote(per), hint)
	}
	if d <= 0 {
		return apis.Limit{}, errors.New("the duration must be more than zero")
	}
	return apis.Limit{Requests: calls, Per: d}, nil
}

// rateLimits checks a source's rate_limits; absent (nil), they are the documented ones (api's). A limit
// above Microsoft's is a warning, not an error: Microsoft may raise a limit before this build
// knows it.
func (c *checker) rateLimits(key string, api apis.API, list []string) []apis.Limit {
	documented := api.Limits
	if list == nil {
		return documented
	}
	if len(list) == 0 {
		c.invalid(key, "empty: alertexport would call the API without any limit (remove the key for Microsoft's documented limits, %s)", formatLimits(documented))
		return documented
	}
	out := make([]apis.Limit, 0, len(list))
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
	c.aboveDocumented(key, api.Title, out, documented)
	return out
}

// aboveDocumented warns when limits let calls through faster, in the long run, than the
// documented limits allow: the API will then answer 429.
func (c *checker) aboveDocumented(key, title string, limits, documented []apis.Limit) {
	if len(documented) == 0 {
		return
	}
	ours := math.Inf(1)
	for _, l := range limits {
		ours = min(ours, l.PerSecond())
	}
	binding := documented[0]
	for _, d := range documented[1:] {
		if d.PerSecond() < binding.PerSecond() {
			binding = d
		}
	}
	if ours <= binding.PerSecond()*(1+1e-9) {
		return
	}
	allowed := strconv.FormatFloat(math.Round(ours*binding.Per.Seconds()*10)/10, 'f', -1, 64)
	c.warnf(key, "let through %s calls per %s in the long run, more than Microsoft documents for the %s API (%s): the API will answer 429 (Too Many Requests) and the export will wait; fine only if Microsoft raised the limit",
		allowed, formatDuration(binding.Per), title, formatLimits(documented))
}

// formatLimits writes limits as the file does, without the brackets: "100/1m", "1500/1h".
func formatLimits(limits []apis.Limit) string {
	q := make([]string, len(limits))
	for i, l := range limits {
		q[i] = quote(l.String())
	}
	return strings.Join(q, ", ")
}

// rateLimitStrings writes limits as rate_limits' value.
func rateLimitStrings(limits []apis.Limit) []string {
	out := make([]string, len(limits))
	for i, l := range limits {
		out[i] = l.String()
	}
	return out
}
