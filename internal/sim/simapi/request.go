// Package simapi is what the simulator's Defender APIs share: the request
// pipeline each API plugs into, the request record, rate limits and their
// sliding windows, and injected faults.
package simapi

import (
	"net/url"
	"strconv"
	"time"
)

// Request records one request to a Defender API of the simulator.
type Request struct {
	Time     time.Time // real time the request arrived
	Done     time.Time // real time its answer was written (or the connection dropped)
	API      string    // "endpoint" for the MDE alerts API, "cloudapps" for Defender for Cloud Apps
	TenantID string    // the token's tid (or a legacy token's tenant); "" when there was no valid token
	AppID    string    // the token's appid; "" when there was no valid token or a legacy token
	// TokenID is the token's uti: each process of a client takes its own token, so it tells
	// which replica called.
	TokenID string
	Path    string
	Query   string // the query string, percent-decoded
	Status  int    // HTTP status sent; 0 when the connection was dropped or the client left first
	// Results is the number of alerts in a complete answer: 0 for errors and
	// for Truncate and InvalidJSON faults, whose bodies cannot be read.
	Results int
	// Body is the request body as sent (Defender for Cloud Apps takes its
	// parameters there), cut at 64 KiB; "" for the MDE API.
	Body string
}

// RetryAfterSeconds is a Retry-After value: whole seconds, rounded up, at
// least 1 (common-errors.md: "how long to wait (in seconds)").
func RetryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(max(1, int64((d+time.Second-1)/time.Second)), 10)
}

// DecodedQuery is raw percent-decoded, or raw itself when it does not decode.
func DecodedQuery(raw string) string {
	if q, err := url.QueryUnescape(raw); err == nil {
		return q
	}
	return raw
}
