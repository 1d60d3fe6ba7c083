package simapi

import (
	"net/http"
	"time"
)

// The request pipeline every Defender API of the simulator plugs into:
// record → authenticate and authorize → count against the rate limits →
// take the tenant's next fault → serve. What differs between the APIs is an
// apiCall: how it authenticates, the shape of its errors, and its answer.

// Error is an API's error answer.
type Error interface {
	HTTPStatus() int
}

// Caller is what authorization learned about a request: where it counts
// against the rate limits and which faults it draws.
type Caller struct {
	Window *Window
	Faults *FaultPlan
	// ThrottleRetry is the Retry-After of random throttle faults (none when 0).
	ThrottleRetry time.Duration
}

// Call is one request to one API. A handler makes a fresh one per
// request, so it can carry the request's own state (Graph's request IDs,
// Cloud Apps' body).
type Call[E Error] interface {
	// api is the API's name: the key of its rate limits and APIRequest.API.
	API() string
	// begin runs before anything else; false means the client went away and
	// nothing is answered.
	Begin(w http.ResponseWriter, r *http.Request, rec *Request) bool
	// logDone logs the finished request.
	LogDone(r *http.Request, rec *Request, elapsed time.Duration)
	// authorize authenticates and authorizes the request, filling rec's
	// tenant and app; ok false answers e.
	Authorize(r *http.Request, rec *Request) (c Caller, e E, ok bool)
	// faultError is the answer of a fault with a status.
	FaultError(f Fault) E
	// throttled is the answer of a request over the limit hit; wait is when
	// a retry can succeed.
	Throttled(wait time.Duration, hit RateLimit) E
	WriteError(w http.ResponseWriter, e E)
	// serve answers an admitted request, playing fault's Truncate or
	// InvalidJSON when faulted.
	Serve(w http.ResponseWriter, r *http.Request, rec *Request, fault Fault, faulted bool)
}

// Env is what the pipeline needs of the server.
type Env struct {
	// Limits returns the rate limits in force for an API.
	Limits func(api string) []RateLimit
	// Record keeps a finished request for the server's log.
	Record func(Request)
}

// Run serves r through the pipeline.
func Run[E Error](env Env, w http.ResponseWriter, r *http.Request, call Call[E]) {
	start := time.Now()
	rec := Request{Time: start, API: call.API(), Path: r.URL.Path, Query: DecodedQuery(r.URL.RawQuery)}
	defer func() {
		env.Record(rec)
		call.LogDone(r, &rec, time.Since(start))
	}()
	if !call.Begin(w, r, &rec) {
		return // the client went away; Status stays 0
	}
	fail := func(e E) {
		rec.Status = e.HTTPStatus()
		call.WriteError(w, e)
	}

	c, e, ok := call.Authorize(r, &rec)
	if !ok {
		fail(e)
		return
	}
	wait, hit := c.Window.Admit(time.Now(), env.Limits(call.API()))
	fault, faulted := c.Faults.Next(c.ThrottleRetry)
	if faulted && !WaitFault(r, fault) {
		return // the client gave up; Status stays 0
	}
	switch {
	case faulted && fault.Drop:
		DropConnection(w)
		return
	case faulted && fault.ErrorStatus() != 0:
		fail(call.FaultError(fault))
		return
	case wait > 0:
		fail(call.Throttled(wait, hit))
		return
	}
	call.Serve(w, r, &rec, fault, faulted)
}
