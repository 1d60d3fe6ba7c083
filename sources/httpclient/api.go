package httpclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/alertexport/alertexport/sources/page"
)

// TokenSource hands out bearer tokens (sources/auth.Provider).
type TokenSource interface {
	Token(ctx context.Context, scope string) (string, error)
	// Invalidate drops token from the cache when the API rejected it, so the next Token call
	// asks Entra ID for a new one.
	Invalidate(scope, token string)
}

type gateKey struct{}

// WithGate returns ctx carrying check, which every API call made with it runs right before each
// request is sent; its error ends the call (not retried). The worker so makes sure that a
// replica that has lost a job's lease — another replica runs the job now — sends no further
// request for it, even one that waited long for the rate limiter.
func WithGate(ctx context.Context, check func() error) context.Context {
	return context.WithValue(ctx, gateKey{}, check)
}

func gate(ctx context.Context) error {
	if check, ok := ctx.Value(gateKey{}).(func() error); ok {
		return check()
	}
	return nil
}

// Retry bounds the retries of one call: 5xx, 429, network errors and broken bodies.
type Retry struct {
	MaxTries   uint
	Initial    time.Duration // first backoff; it doubles, with jitter, up to Max
	Max        time.Duration
	MaxElapsed time.Duration // no new attempt starts after this
}

// DefaultRetry rides out a short API incident inside one poll; a longer one fails the poll, and
// the next poll starts again from the checkpoint.
var DefaultRetry = Retry{MaxTries: 6, Initial: time.Second, Max: 30 * time.Second, MaxElapsed: 3 * time.Minute}

// Call describes one HTTP request to an API, for metrics.
type Call struct {
	API, Tenant string
	Status      int // 0: no answer (network error)
	Duration    time.Duration
	Err         error
}

// API calls one Microsoft API for one tenant: a limiter, a bearer token, retries, and errors
// that say what to fix.
type API struct {
	Name    string // source name: endpoint, cloudapps, graph
	Tenant  string // tenant name, for errors
	HTTP    *http.Client
	Tokens  TokenSource
	Scope   string
	Limiter *Limiter // nil = no client-side limit
	Retry   Retry    // zero = DefaultRetry
	Logger  *slog.Logger
	Observe func(Call) // nil = none
	// Idle cuts off a response whose body stops arriving for this long; 0 = 2 minutes.
	Idle time.Duration
	// ThrottleWait is how long a 429 without Retry-After holds the tenant back (at most
	// maxRetryAfter); 0 = the exponential backoff decides.
	ThrottleWait time.Duration
	// ThrottledBody treats any error answer whose body says "throttled" as a 429 (Defender for
	// Cloud Apps documents no throttling status; clients meet both).
	ThrottledBody bool
	// Forbidden is the fix to name when the API answers 403.
	Forbidden string
	// Header is sent with every request (e.g. Graph's Prefer).
	Header http.Header
	// MaxBody caps the body of a 200 answer; 0 = MaxBody.
	MaxBody int64
}

// MaxBody is the default cap on the body of one 200 answer (one page). A page is read as a
// stream, one alert at a time (sources/page caps what is held at once), so this bounds the
// time and traffic of one answer, not memory: 1 GiB is above the largest page real alerts make
// (Defender for Endpoint's 10,000 alerts of up to 64 KiB each are 625 MiB; Graph's 1,000 and
// Cloud Apps' 100 far less), and what goes past it (an answer that never ends) is not a page.
const MaxBody = 1 << 30

// maxErrorBody is how much of an error answer's body is read, for its message.
const maxErrorBody = 64 << 10

// BodyTooLargeError is a 200 answer whose body goes on past API.MaxBody. The call is not
// retried: the same request would bring the same answer.
type BodyTooLargeError struct{ Limit int64 }

func (e *BodyTooLargeError) Error() string {
	return fmt.Sprintf("the answer is over %d bytes, the cap on one page's body", e.Limit)
}

// Is makes errors.Is(err, page.ErrTooLarge) true: whatever wraps it, it is not retried.
func (e *BodyTooLargeError) Is(target error) bool { return target == page.ErrTooLarge }

// maxRetryAfter caps what a Retry-After (or ThrottleWait, when it is absent) may hold every
// caller of a tenant back: a broken or hostile value (a day, a century) must not silently stall a
// job.
const maxRetryAfter = 15 * time.Minute

// BodyError wraps a failure to read or decode a response body: a truncated page or broken
// JSON. The call is retried, since the same request usually succeeds the next time.
type BodyError struct{ Err error }

func (e *BodyError) Error() string { return "reading the response: " + e.Err.Error() }
func (e *BodyError) Unwrap() error { return e.Err }

// Error is a call that failed for good (or after its retries).
type Error struct {
	API, Tenant string
	Method      string
	URL         string // without the query's values
	Status      int    // 0 when no answer came
	Code        string // the API's error code, when its body has one
	Message     string // the API's message, or the network error
	Excerpt     string // the start of the body
	RequestID   string // Graph's innerError request-id: what Microsoft support asks for
	Fix         string
	Err         error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tenant %q: %s API: %s %s: ", e.Tenant, e.API, e.Method, e.URL)
	switch {
	case e.Status == 0:
		b.WriteString(e.Message)
	default:
		fmt.Fprintf(&b, "HTTP %d", e.Status)
		if e.Code != "" {
			b.WriteString(" " + e.Code)
		}
		if e.Message != "" {
			b.WriteString(": " + e.Message)
		} else if e.Excerpt != "" {
			b.WriteString(": " + e.Excerpt)
		}
		if e.RequestID != "" {
			b.WriteString(" (request-id " + e.RequestID + ")")
		}
	}
	if e.Fix != "" {
		b.WriteString("; fix: " + e.Fix)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Get sends GET u with a bearer token and hands a 200's body to read, which must consume it.
// It waits for the limiter, retries what is transient, and returns an *Error otherwise. An error
// from read is retried only when it is a *BodyError; anything else (say, the caller could not
// publish) stops the call and is returned as is.
func (a *API) Get(ctx context.Context, u string, read func(io.Reader) error) error {
	return a.Do(ctx, http.MethodGet, u, nil, read)
}

// GetWith is Get whose read also sees the response (its headers: Graph's Date).
func (a *API) GetWith(ctx context.Context, u string, read func(*http.Response, io.Reader) error) error {
	return a.do(ctx, http.MethodGet, u, nil, read)
}

// Post is Get with a JSON request body (Defender for Cloud Apps takes its filters that way).
func (a *API) Post(ctx context.Context, u string, body []byte, read func(io.Reader) error) error {
	return a.Do(ctx, http.MethodPost, u, body, read)
}

// PostWith is Post whose read also sees the response (its headers: the Date).
func (a *API) PostWith(ctx context.Context, u string, body []byte, read func(*http.Response, io.Reader) error) error {
	return a.do(ctx, http.MethodPost, u, body, read)
}

// Do sends method u with body (JSON, or nil) and hands a 200's body to read; see Get.
func (a *API) Do(ctx context.Context, method, u string, body []byte, read func(io.Reader) error) error {
	return a.do(ctx, method, u, body, func(_ *http.Response, r io.Reader) error { return read(r) })
}

func (a *API) do(ctx context.Context, method, u string, body []byte, read func(*http.Response, io.Reader) error) error {
	r := a.Retry
	if r == (Retry{}) {
		r = DefaultRetry
	}
	log := a.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	exp := backoff.NewExponentialBackOff()
	exp.InitialInterval, exp.MaxInterval = r.Initial, r.Max
	bo := &hinted{ExponentialBackOff: exp}
	renewed := false
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		err := a.attempt(ctx, method, u, body, read, bo, &renewed)
		return struct{}{}, err
	},
		backoff.WithBackOff(bo),
		backoff.WithMaxTries(r.MaxTries),
		backoff.WithMaxElapsedTime(r.MaxElapsed),
		backoff.WithNotify(func(err error, next time.Duration) {
			log.Debug("API call failed, retrying", "api", a.Name, "tenant", a.Tenant, "in", next.Round(time.Millisecond).String(), "err", err)
		}))
	return err
}

// attempt makes one request. Transient failures come back as plain errors (retried), the rest
// as backoff.Permanent.
func (a *API) attempt(ctx context.Context, method, u string, reqBody []byte, read func(*http.Response, io.Reader) error, bo *hinted, renewed *bool) error {
	answered, err := a.Limiter.Wait(ctx)
	if err != nil {
		return backoff.Permanent(err)
	}
	defer answered() // a call that never left counts from now
	token, err := a.Tokens.Token(ctx, a.Scope)
	if err != nil {
		return backoff.Permanent(err) // sources/auth has retried what was worth it
	}
	// A page that stops arriving is cut off (idleReader) by cancelling the attempt's context.
	ctx, cancelAttempt := context.WithCancelCause(ctx)
	defer cancelAttempt(nil)
	var rb io.Reader
	if reqBody != nil {
		rb = bytes.NewReader(reqBody)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rb)
	if err != nil {
		return backoff.Permanent(err)
	}
	if reqBody != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range a.Header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	// Last, right before the request leaves: waiting for the limiter or a token may have
	// taken long, or the process may have been frozen meanwhile.
	if err := gate(ctx); err != nil {
		return backoff.Permanent(err)
	}
	start := time.Now()
	resp, err := a.HTTP.Do(req)
	answered() // the server has counted it by now, if it ever will
	if err != nil {
		a.observe(0, start, err)
		if ctx.Err() != nil {
			return backoff.Permanent(context.Cause(ctx))
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the URL with the query
		}
		e := a.fail(method, u, 0, nil, err)
		if fix := permanentNetworkError(err); fix != "" {
			e.Fix = fix
			return backoff.Permanent(e)
		}
		return e
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		capped := &cappedReader{r: resp.Body, limit: a.maxBody()}
		body := newIdleReader(capped, a.idle(), cancelAttempt)
		err := read(resp, body)
		body.stop()
		a.observe(resp.StatusCode, start, err)
		var be *BodyError
		switch {
		case err == nil:
			return nil
		case errors.Is(context.Cause(ctx), errIdle):
			return a.fail(method, u, resp.StatusCode, nil, errIdle)
		case ctx.Err() != nil:
			return backoff.Permanent(context.Cause(ctx))
		case capped.over:
			e := a.fail(method, u, resp.StatusCode, nil, &BodyTooLargeError{Limit: a.maxBody()})
			e.Fix = "a page this large is not one of alerts as the API documents it; if the API really sends it, please report this"
			return backoff.Permanent(e)
		case errors.Is(err, page.ErrTooLarge):
			// More than alertexport reads (a field it needs over its cap): asking again
			// brings the same answer.
			return backoff.Permanent(a.fail(method, u, resp.StatusCode, nil, err))
		case errors.As(err, &be):
			return a.fail(method, u, resp.StatusCode, nil, err)
		default:
			return backoff.Permanent(err)
		}
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	a.observe(resp.StatusCode, start, nil)
	e := a.fail(method, u, resp.StatusCode, body, nil)
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests || a.ThrottledBody && bytes.Contains(bytes.ToLower(body), []byte("throttled")):
		wait := min(retryAfter(resp.Header.Get("Retry-After"), time.Now()), maxRetryAfter)
		if wait == 0 {
			wait = min(a.ThrottleWait, maxRetryAfter)
		}
		a.Limiter.Pause(wait)
		bo.hint = wait
		e.Fix = ""
		e.Message = strings.TrimSpace(e.Message + " (throttled; Retry-After " + resp.Header.Get("Retry-After") + ")")
		return e
	case s == http.StatusUnauthorized && !*renewed:
		// An expired or revoked token that MSAL still holds: drop it and ask once more.
		*renewed = true
		a.Tokens.Invalidate(a.Scope, token)
		bo.now = true
		return e
	case s >= 500 || s == http.StatusRequestTimeout:
		return e
	default:
		return backoff.Permanent(e)
	}
}

func (a *API) observe(status int, start time.Time, err error) {
	if a.Observe != nil {
		a.Observe(Call{API: a.Name, Tenant: a.Tenant, Status: status, Duration: time.Since(start), Err: err})
	}
}

// fail builds the *Error for a response (or its absence).
func (a *API) fail(method, u string, status int, body []byte, cause error) *Error {
	e := &Error{API: a.Name, Tenant: a.Tenant, Method: method, URL: redactQuery(u), Status: status, Err: cause}
	if cause != nil {
		e.Message = cause.Error()
	}
	if len(body) > 0 {
		e.Code, e.Message, e.RequestID = errorBody(body)
		e.Excerpt = excerpt(body)
	}
	switch status {
	case http.StatusUnauthorized:
		e.Fix = "the API refused the app's token twice: check that tenant_id and cloud match the tenant the API belongs to"
	case http.StatusForbidden:
		e.Fix = a.Forbidden
	case http.StatusBadRequest:
		e.Fix = "the API refused alertexport's query; please report this with the message above"
	}
	return e
}

// errorBody reads the error code and message of the Defender, Graph and Cloud Apps shapes:
// {"error":{"code","message"}}, Graph's {"error":{"code","message","innerError":
// {"request-id"}}}, {"error":"..."}, {"detail":"..."}.
func errorBody(b []byte) (code, msg, requestID string) {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Detail  string          `json:"detail"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(b, &v) != nil {
		return "", "", ""
	}
	var obj struct {
		Code, Message string
		InnerError    struct {
			RequestID string `json:"request-id"`
		} `json:"innerError"`
	}
	var s string
	switch {
	case json.Unmarshal(v.Error, &obj) == nil && (obj.Code != "" || obj.Message != ""):
		return obj.Code, obj.Message, obj.InnerError.RequestID
	case json.Unmarshal(v.Error, &s) == nil && s != "":
		return "", s, ""
	case v.Detail != "":
		return "", v.Detail, ""
	}
	return "", v.Message, ""
}

func excerpt(b []byte) string {
	b = bytes.TrimSpace(b)
	const n = 300
	if len(b) > n {
		return strings.ToValidUTF8(string(b[:n]), "") + "…"
	}
	return strings.ToValidUTF8(string(b), "")
}

// redactQuery keeps a URL's path and the names of its query parameters; the values (filters
// with times) are noise in an error and may be long.
func redactQuery(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	if p.RawQuery == "" {
		return p.Scheme + "://" + p.Host + p.Path
	}
	names := make([]string, 0, 4)
	for k := range p.Query() {
		names = append(names, k)
	}
	slices.Sort(names)
	return p.Scheme + "://" + p.Host + p.Path + "?" + strings.Join(names, "&")
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date. Absent or unreadable: 0,
// and the exponential backoff decides.
func retryAfter(h string, now time.Time) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if at, err := http.ParseTime(h); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}

// hinted waits at least as long as the server asked, else backs off exponentially with jitter;
// now skips the wait once (a renewed token needs none).
type hinted struct {
	*backoff.ExponentialBackOff
	hint time.Duration
	now  bool
}

func (b *hinted) NextBackOff() time.Duration {
	next := b.ExponentialBackOff.NextBackOff()
	switch {
	case next == backoff.Stop:
	case b.now:
		next = 0
	case b.hint > next:
		next = b.hint
	}
	b.hint, b.now = 0, false
	return next
}

func (a *API) maxBody() int64 {
	if a.MaxBody > 0 {
		return a.MaxBody
	}
	return MaxBody
}

// cappedReader reads up to limit bytes and fails, with over set, if the body goes on past them.
type cappedReader struct {
	r     io.Reader
	limit int64
	read  int64
	over  bool
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.over {
		return 0, &BodyTooLargeError{Limit: c.limit}
	}
	if c.read >= c.limit {
		// At the cap: the body may end just here; one byte more says it does not.
		var one [1]byte
		if n, err := io.ReadFull(c.r, one[:]); n == 0 {
			return 0, err
		}
		c.over = true
		return 0, &BodyTooLargeError{Limit: c.limit}
	}
	if room := c.limit - c.read; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := c.r.Read(p)
	c.read += int64(n)
	return n, err
}

func (a *API) idle() time.Duration {
	if a.Idle > 0 {
		return a.Idle
	}
	return 2 * time.Minute
}

// permanentNetworkError says what to fix for network errors that asking again will not cure:
// a certificate that is not trusted, a host name that does not resolve. "" for the others.
func permanentNetworkError(err error) string {
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var verify *tls.CertificateVerificationError
	var dns *net.DNSError
	var redirect *RedirectError
	switch {
	case errors.As(err, &redirect):
		return "the API answers directly, so something else did: check api_url, and any proxy on the way (HTTPS_PROXY)"
	case errors.As(err, &unknownCA), errors.As(err, &verify):
		return "the API's TLS certificate is not trusted here: if a TLS-inspecting proxy is in the way, add its CA to [worker] ca_file"
	case errors.As(err, &hostErr):
		return "the API's certificate does not match its host: check api_url"
	case errors.As(err, &dns) && dns.IsNotFound:
		return "the API host does not resolve: check api_url and the cloud"
	}
	return ""
}

// errIdle: the response body stopped arriving.
var errIdle = errors.New("the response stopped arriving (no data for the idle timeout)")

// idleReader cancels the request when a Read waits longer than the idle timeout. Only time
// spent waiting in Read counts: the caller may take long between reads (publishing).
type idleReader struct {
	r      io.Reader
	idle   time.Duration
	cancel context.CancelCauseFunc
	timer  *time.Timer
}

func newIdleReader(r io.Reader, idle time.Duration, cancel context.CancelCauseFunc) *idleReader {
	t := time.AfterFunc(time.Hour, func() { cancel(errIdle) })
	t.Stop()
	return &idleReader{r: r, idle: idle, cancel: cancel, timer: t}
}

func (r *idleReader) Read(p []byte) (int, error) {
	r.timer.Reset(r.idle)
	n, err := r.r.Read(p)
	r.timer.Stop()
	return n, err
}

func (r *idleReader) stop() { r.timer.Stop() }
