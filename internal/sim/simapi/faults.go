package simapi

import (
	"bufio"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"
)

// The machinery the Defender API parts share: injected faults (queued and
// random), rate-limit windows over real time, and waiting out a fault's
// delay.

// Fault is an injected failure of an API request. It plays after the
// request has been authenticated and authorized (so a fault never hides a
// 401 or 403), and before the rate limits' verdict (the request still
// counts against them), in place of the normal answer. Fields combine: Delay first, then the
// first of Drop, Truncate, InvalidJSON and Status that is set; a fault with
// only Delay answers normally after the delay.
type Fault struct {
	// Status answers with this HTTP status and the API's error body (500,
	// 503, 429, 400, ...).
	Status int
	// RetryAfter sets Retry-After, in whole seconds rounded up, when > 0;
	// with 0 no Retry-After is sent.
	RetryAfter time.Duration
	// Throttled makes the error body of Status say that the request was
	// throttled, whatever the status: clients of Defender for Cloud Apps
	// recognise throttling by that text (CloudAppSecurityDocs#628,
	// microsoft/MCAS Invoke-MCASRestMethod.ps1). Status 0 with
	// Throttled means 429.
	Throttled bool
	// Delay holds the request this long (or until the client gives up)
	// before the rest of the fault or the normal answer.
	Delay time.Duration
	// Truncate sends 200, the headers and about half of the normal body,
	// then cuts the connection (resets the stream over HTTP/2).
	Truncate bool
	// InvalidJSON sends 200 with the normal body made syntactically invalid
	// in the middle of its list of alerts.
	InvalidJSON bool
	// Drop closes the connection without answering.
	Drop bool
}

// ErrorStatus is the HTTP status of an error fault, 0 when the fault answers
// otherwise.
func (f Fault) ErrorStatus() int {
	if f.Drop || f.Truncate || f.InvalidJSON {
		return 0
	}
	if f.Status == 0 && f.Throttled {
		return http.StatusTooManyRequests
	}
	return f.Status
}

// FaultRates makes each authenticated request of the tenant fail at random
// (drawn from the tenant's seeded generator) when no queued fault applies.
// The rates are probabilities; their sum should not exceed 1.
type FaultRates struct {
	ServerError float64 // 500 InternalServerError
	Throttle    float64 // 429 with the API's throttling answer
	Slow        float64 // answered normally after SlowDelay
	Truncate    float64 // body cut in the middle (see Fault.Truncate)
	// SlowDelay is the delay of Slow answers; 0 means 10 s.
	SlowDelay time.Duration
}

const DefaultSlowDelay = 10 * time.Second

type queuedAPIFault struct {
	n     int
	fault Fault
}

// FaultPlan is a tenant's injected faults, the same for every API part: a
// queue, then random ones. Each tenant type embeds one, so Fail and
// SetFaultRates are methods of EndpointTenant, CloudAppsTenant and
// GraphTenant alike.
type FaultPlan struct {
	mu    sync.Mutex
	queue []queuedAPIFault
	rates FaultRates
	// RNG draws the random faults: separate from the alerts' generator, so
	// faults do not shift the alerts.
	RNG *rand.Rand
}

// Fail makes the tenant's next n requests to this API that pass
// authentication and authorization fail as f says, before the rate limits'
// verdict. Calls queue up in order. A 429 (or a fault with Throttled) answers
// with the API's throttling body.
func (p *FaultPlan) Fail(n int, f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n > 0 {
		p.queue = append(p.queue, queuedAPIFault{n: n, fault: f})
	}
}

// SetFaultRates sets the rates of random faults; the zero value turns them
// off. Random throttles carry Retry-After: 1 (Defender for Cloud Apps only
// when the server sends Retry-After, Options.CloudAppsRetryAfter).
func (p *FaultPlan) SetFaultRates(r FaultRates) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rates = r
}

// Next takes the fault for a request: a queued one, else a random one.
// Random throttles carry Retry-After throttleRetryAfter (none when 0).
// Choice: Microsoft documents Retry-After in seconds but no value; one
// second keeps randomly faulted runs short.
func (p *FaultPlan) Next(throttleRetryAfter time.Duration) (Fault, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) > 0 {
		f := p.queue[0].fault
		if p.queue[0].n--; p.queue[0].n == 0 {
			p.queue = p.queue[1:]
		}
		return f, true
	}
	r := p.rates
	if r == (FaultRates{}) {
		return Fault{}, false
	}
	x := p.RNG.Float64()
	switch {
	case x < r.ServerError:
		return Fault{Status: 500}, true
	case x < r.ServerError+r.Throttle:
		return Fault{Status: 429, Throttled: true, RetryAfter: throttleRetryAfter}, true
	case x < r.ServerError+r.Throttle+r.Slow:
		d := r.SlowDelay
		if d <= 0 {
			d = DefaultSlowDelay
		}
		return Fault{Delay: d}, true
	case x < r.ServerError+r.Throttle+r.Slow+r.Truncate:
		return Fault{Truncate: true}, true
	}
	return Fault{}, false
}

// WaitFault holds a faulted request for the fault's delay. It returns false
// when the client gave up meanwhile; the handler then answers nothing.
func WaitFault(r *http.Request, f Fault) bool {
	if f.Delay <= 0 {
		return true
	}
	timer := time.NewTimer(f.Delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// Window is the real times of a tenant's requests counted by an API's
// rate limits.
type Window struct {
	mu    sync.Mutex
	calls []time.Time
}

// Admit counts a request made at now (real time) and returns how long the
// client must wait before a retry can succeed, 0 when this request is within
// every limit, with the limit that was hit.
//
// The windows slide over real time, not the simulator's clock: tests move
// the simulator's clock to date alerts and tokens, and a limit on that clock
// would throttle or release clients at the test's whim instead of at their
// own request rate. Every request that passes authentication and
// authorization counts, the ones answered 429 included (MDE's
// common-errors.md: resubmitting before Retry-After keeps you throttled), so
// a client that ignores the throttling stays throttled. Choice: 401 and 403
// answers do not count; the tenant of a request without a valid token is
// not known, and Microsoft does not say whether refused tokens count.
func (w *Window) Admit(now time.Time, limits []RateLimit) (time.Duration, RateLimit) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, now)
	// Keep at least an hour (the longest documented window) so that limits
	// set later see the calls made before.
	longest := time.Hour
	for _, l := range limits {
		longest = max(longest, l.Per)
	}
	// Drop what no window can see any more.
	drop := 0
	for drop < len(w.calls) && !w.calls[drop].After(now.Add(-longest)) {
		drop++
	}
	w.calls = w.calls[drop:]

	var wait time.Duration
	var hit RateLimit
	for _, l := range limits {
		from := now.Add(-l.Per)
		first, _ := slices.BinarySearchFunc(w.calls, from, func(c, target time.Time) int {
			if c.After(target) {
				return 1
			}
			return -1
		})
		inWindow := len(w.calls) - first
		if inWindow <= l.Requests {
			continue
		}
		// A retry succeeds once at most Requests-1 of these are left in the
		// window: when the (inWindow-Requests+1)-th oldest leaves it.
		leaves := w.calls[first+inWindow-l.Requests].Add(l.Per)
		if d := leaves.Sub(now); d > wait {
			wait, hit = d, l
		}
	}
	return wait, hit
}

// WritePage sends a 200 page of n alerts that render builds (broken >= 0: a
// cut-off alert before the one at that index), or plays fault's Truncate or
// InvalidJSON on it, and records in rec how many alerts a client could read.
// The headers are written already.
func WritePage(w http.ResponseWriter, rec *Request, fault Fault, faulted bool, n int, render func(broken int) []byte) {
	switch {
	case faulted && fault.Truncate:
		doc := render(-1)
		_, _ = w.Write(doc[:len(doc)/2])
		_ = http.NewResponseController(w).Flush()
		DropConnection(w)
	case faulted && fault.InvalidJSON:
		_, _ = w.Write(render(n / 2))
	default:
		bw := bufio.NewWriterSize(w, 64<<10)
		if _, err := bw.Write(render(-1)); err == nil && bw.Flush() == nil {
			rec.Results = n
		}
	}
}

// DropConnection ends the exchange without a response. Over HTTP/1.1 it
// hijacks and closes the TCP connection; HTTP/2 streams cannot be hijacked,
// so there it aborts the handler, which makes net/http reset the stream
// (http.ErrAbortHandler is the documented way to do that, and is not logged).
func DropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close() // closing is the point; there is nothing to report
		return
	}
	panic(http.ErrAbortHandler)
}
