package sim

import (
	"net/http"
	"time"
)

// The request pipeline every Defender API of the simulator plugs into:
// record → authenticate and authorize → count against the rate limits →
// take the tenant's next fault → serve. What differs between the APIs is an
// apiCall: how it authenticates, the shape of its errors, and its answer.

// apiError is an API's error answer.
type apiError interface {
	httpStatus() int
}

// caller is what authorization learned about a request: where it counts
// against the rate limits and which faults it draws.
type caller struct {
	window *rateWindow
	faults *faultPlan
	// throttleRetry is the Retry-After of random throttle faults (none when 0).
	throttleRetry time.Duration
}

// apiCall is one request to one API. A handler makes a fresh one per
// request, so it can carry the request's own state (Graph's request IDs,
// Cloud Apps' body).
type apiCall[E apiError] interface {
	// api is the API's name: the key of its rate limits and APIRequest.API.
	api() string
	// begin runs before anything else; false means the client went away and
	// nothing is answered.
	begin(w http.ResponseWriter, r *http.Request, rec *APIRequest) bool
	// logDone logs the finished request.
	logDone(r *http.Request, rec *APIRequest, elapsed time.Duration)
	// authorize authenticates and authorizes the request, filling rec's
	// tenant and app; ok false answers e.
	authorize(r *http.Request, rec *APIRequest) (c caller, e E, ok bool)
	// faultError is the answer of a fault with a status.
	faultError(f APIFault) E
	// throttled is the answer of a request over the limit hit; wait is when
	// a retry can succeed.
	throttled(wait time.Duration, hit RateLimit) E
	writeError(w http.ResponseWriter, e E)
	// serve answers an admitted request, playing fault's Truncate or
	// InvalidJSON when faulted.
	serve(w http.ResponseWriter, r *http.Request, rec *APIRequest, fault APIFault, faulted bool)
}

// runAPI serves r through the pipeline.
func runAPI[E apiError](s *Server, w http.ResponseWriter, r *http.Request, call apiCall[E]) {
	start := time.Now()
	rec := APIRequest{Time: start, API: call.api(), Path: r.URL.Path, Query: decodedQuery(r.URL.RawQuery)}
	defer func() {
		s.logAPIRequest(rec)
		call.logDone(r, &rec, time.Since(start))
	}()
	if !call.begin(w, r, &rec) {
		return // the client went away; Status stays 0
	}
	fail := func(e E) {
		rec.Status = e.httpStatus()
		call.writeError(w, e)
	}

	c, e, ok := call.authorize(r, &rec)
	if !ok {
		fail(e)
		return
	}
	wait, hit := c.window.admit(time.Now(), s.rateLimits(call.api()))
	fault, faulted := c.faults.nextFault(c.throttleRetry)
	if faulted && !waitFault(r, fault) {
		return // the client gave up; Status stays 0
	}
	switch {
	case faulted && fault.Drop:
		dropConnection(w)
		return
	case faulted && fault.status() != 0:
		fail(call.faultError(fault))
		return
	case wait > 0:
		fail(call.throttled(wait, hit))
		return
	}
	call.serve(w, r, &rec, fault, faulted)
}
