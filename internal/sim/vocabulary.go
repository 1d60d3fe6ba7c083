package sim

import "github.com/alertexport/alertexport/internal/sim/simapi"

// The pipeline's vocabulary under the simulator's own name, so tests and the
// demo configure a simulator with one import.
type (
	// APIFault is an injected failure of an API request (simapi.Fault).
	APIFault = simapi.Fault
	// FaultRates makes a tenant's requests fail at random (simapi.FaultRates).
	FaultRates = simapi.FaultRates
	// RateLimit is one limit: at most Requests calls per Per.
	RateLimit = simapi.RateLimit
	// RateLimits is the choice of an API's rate limits; the zero value is
	// Documented.
	RateLimits = simapi.RateLimits
	// APIRequest records one request to a Defender API of the simulator.
	APIRequest = simapi.Request
)

// Documented is the limits Microsoft documents for the API.
func Documented() RateLimits { return simapi.Documented() }

// NoRateLimits lifts every limit of the API.
func NoRateLimits() RateLimits { return simapi.NoRateLimits() }

// LimitTo sets exactly these limits; with none, there is no limit.
func LimitTo(rules ...RateLimit) RateLimits { return simapi.LimitTo(rules...) }
