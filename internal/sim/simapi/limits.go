package simapi

import (
	"fmt"
	"slices"

	"github.com/alertexport/alertexport/sources/apis"
)

// RateLimit is one limit: at most Requests calls per sliding window of Per (the registry's
// type, so that the documented limits are written once).
type RateLimit = apis.Limit

// RateLimits is the choice of an API's rate limits. The zero value is
// Documented.
type RateLimits struct {
	custom bool // false: the documented limits
	rules  []RateLimit
}

// Documented is the limits Microsoft documents for the API.
func Documented() RateLimits { return RateLimits{} }

// NoRateLimits lifts every limit of the API.
func NoRateLimits() RateLimits { return RateLimits{custom: true} }

// LimitTo sets exactly these limits; with none, there is no limit.
func LimitTo(rules ...RateLimit) RateLimits {
	return RateLimits{custom: true, rules: slices.Clone(rules)}
}

// Resolve is the limits the choice stands for, given the API's documented
// ones.
func (l RateLimits) Resolve(api string, documented []RateLimit) ([]RateLimit, error) {
	if !l.custom {
		return slices.Clone(documented), nil
	}
	for _, r := range l.rules {
		if r.Requests < 1 || r.Per <= 0 {
			return nil, fmt.Errorf("simulator: %s rate limit %d per %v: need at least 1 request per positive duration", api, r.Requests, r.Per)
		}
	}
	return slices.Clone(l.rules), nil
}
