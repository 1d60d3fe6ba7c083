package endpoint

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alertexport/alertexport/internal/sim/entra"
	"github.com/alertexport/alertexport/internal/sim/simapi"
	"github.com/alertexport/alertexport/sources/apis"
)

// The Microsoft Defender for Endpoint "List alerts" API, GET /api/alerts
// (and its versioned path /api/v1.0/alerts), as defender-docs
// defender-endpoint/api/get-alerts.md, alerts.md and common-errors.md
// describe it (learn.microsoft.com/defender-endpoint/api/get-alerts, alerts,
// common-errors; and what clients got wrong, e.g.
// MicrosoftDocs/microsoft-365-docs#8489). Checks run in the service's order: authentication
// (401), authorization (403), rate limits (429, with injected faults just
// before them), query options (400), then the answer.

// endpointAppID is the WindowsDefenderATP first-party app: tokens for the API
// must have one of its application ID URIs (or the appId) as audience.
const endpointAppID = "fc780465-2017-40d4-a0c5-307022471b92"

// Limits of List alerts (get-alerts.md §Limitations): "Maximum page size is
// 10,000".
const endpointMaxTop = 10000

// endpointContentType is what ASP.NET OData services send with a resource
// set.
const endpointContentType = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"

// endpointError is an error answer of the Defender for Endpoint API:
// {"error":{"code":...,"message":...,"target":<correlation id>}}
// (common-errors.md).
type endpointError struct {
	status        int
	code, message string
	header        http.Header // extra headers (WWW-Authenticate, Retry-After)
}

func (e *endpointError) HTTPStatus() int { return e.status }

func (e *endpointError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.message) }

func errODataQuery(detail string) *endpointError {
	return &endpointError{status: http.StatusBadRequest, code: "ODataError", message: "Invalid OData URI query: " + detail}
}

// errUnauthorized is a 401 with the WWW-Authenticate challenge ASP.NET's JWT
// bearer handler sends (RFC 6750 §3).
func errUnauthorized(message, challenge string) *endpointError {
	h := http.Header{}
	h.Set("WWW-Authenticate", challenge)
	return &endpointError{status: http.StatusUnauthorized, code: "Unauthorized", message: message, header: h}
}

// errForStatus is the MDE error for an injected status, with the codes of
// common-errors.md. Choice: 503 is not in that list; it gets
// "ServiceUnavailable".
func errForStatus(status int) *endpointError {
	e := &endpointError{status: status}
	switch status {
	case http.StatusBadRequest:
		e.code, e.message = "BadRequest", "The request could not be processed."
	case http.StatusUnauthorized:
		e.code, e.message = "Unauthorized", "The authorization header is invalid or expired."
	case http.StatusForbidden:
		e.code, e.message = "Forbidden", "The token is valid but does not grant the permission required for this operation."
	case http.StatusNotFound:
		e.code, e.message = "NotFound", "The requested resource was not found."
	case http.StatusTooManyRequests:
		e.code, e.message = "TooManyRequests", "The request rate or CPU quota for this tenant has been exceeded. Wait for the time in Retry-After before sending new requests."
	case http.StatusServiceUnavailable:
		e.code, e.message = "ServiceUnavailable", "The service is temporarily unavailable. Retry the operation later."
	default:
		e.code, e.message = "InternalServerError", "An internal error occurred. Retry the operation."
		if status < 500 {
			e.code = "BadRequest"
		}
	}
	return e
}

func (s *API) writeEndpointError(w http.ResponseWriter, e *endpointError) {
	for k, v := range e.header {
		w.Header()[k] = v
	}
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Target  string `json:"target"`
	}
	simapi.WriteJSON(w, e.status, struct {
		Error body `json:"error"`
	}{body{e.code, e.message, simapi.NewGUID()}})
}

// API is the MDE alerts API of one simulator.
type API struct {
	simapi.Host
	entra *entra.Service

	mu      sync.Mutex
	tenants map[string]*Tenant // lower-case tenant ID
}

// New is the API served by the simulator h describes, whose tokens come
// from e.
func New(h simapi.Host, e *entra.Service) *API {
	return &API{Host: h, entra: e, tenants: map[string]*Tenant{}}
}

// Facts is the API's line in the registry (sources/apis).
func (s *API) Facts() apis.API { return apis.Endpoint }

// Routes registers List alerts on mux.
func (s *API) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/alerts", s.handleEndpointAlerts)
	mux.HandleFunc("GET /api/v1.0/alerts", s.handleEndpointAlerts)
}

// FaultPlan is the fault plan of tenantID.
func (s *API) FaultPlan(tenantID string) *simapi.FaultPlan { return &s.Tenant(tenantID).FaultPlan }

// handleEndpointAlerts serves GET /api/alerts and GET /api/v1.0/alerts.
func (s *API) handleEndpointAlerts(w http.ResponseWriter, r *http.Request) {
	simapi.Run[*endpointError](s.Env, w, r, &endpointCall{s: s})
}

// endpointCall is one request to the MDE alerts API in the pipeline.
type endpointCall struct {
	s *API
	t *Tenant
}

func (c *endpointCall) API() string { return apis.Endpoint.Name }

func (c *endpointCall) Begin(http.ResponseWriter, *http.Request, *simapi.Request) bool { return true }

func (c *endpointCall) LogDone(_ *http.Request, rec *simapi.Request, elapsed time.Duration) {
	c.s.Logger.Info("endpoint request", "tenant", rec.TenantID, "app", rec.AppID, "path", rec.Path,
		"query", rec.Query, "status", rec.Status, "results", rec.Results, "elapsed", elapsed)
}

func (c *endpointCall) Authorize(r *http.Request, rec *simapi.Request) (simapi.Caller, *endpointError, bool) {
	claims, e := c.s.endpointAuthenticate(r)
	if e != nil {
		return simapi.Caller{}, e, false
	}
	rec.TenantID, rec.AppID, rec.TokenID = claims.TenantID, claims.AppID, claims.TokenID
	if e := endpointAuthorize(claims); e != nil {
		return simapi.Caller{}, e, false
	}
	c.t = c.s.Tenant(claims.TenantID)
	return simapi.Caller{Window: &c.t.calls, Faults: &c.t.FaultPlan, ThrottleRetry: time.Second}, nil, true
}

func (c *endpointCall) FaultError(fault simapi.Fault) *endpointError {
	e := errForStatus(fault.ErrorStatus())
	if fault.Throttled {
		e.code, e.message = "TooManyRequests", errForStatus(http.StatusTooManyRequests).message
	}
	if fault.RetryAfter > 0 {
		e.header = http.Header{"Retry-After": {simapi.RetryAfterSeconds(fault.RetryAfter)}}
	}
	return e
}

func (c *endpointCall) Throttled(wait time.Duration, limit simapi.RateLimit) *endpointError {
	return &endpointError{status: http.StatusTooManyRequests, code: "TooManyRequests",
		message: fmt.Sprintf("API calls quota exceeded: the limit for this tenant is %d calls per %s. Retry after %s seconds; requests sent earlier are counted too.", limit.Requests, limit.Per, simapi.RetryAfterSeconds(wait)),
		header:  http.Header{"Retry-After": {simapi.RetryAfterSeconds(wait)}}}
}

func (c *endpointCall) WriteError(w http.ResponseWriter, e *endpointError) {
	c.s.writeEndpointError(w, e)
}

// serve answers List alerts.
func (c *endpointCall) Serve(w http.ResponseWriter, r *http.Request, rec *simapi.Request, fault simapi.Fault, faulted bool) {
	s, t := c.s, c.t
	fail := func(e *endpointError) {
		rec.Status = e.status
		s.writeEndpointError(w, e)
	}
	q, e := parseAlertsQuery(r.URL.RawQuery)
	if e != nil {
		fail(e)
		return
	}
	limit64 := int64(endpointMaxTop)
	if q.hasTop {
		limit64 = q.top
	}
	page, more := t.query(s.Now(), q.filter, q.skip, limit64)
	var nextLink string
	// No @odata.nextLink when $top is given: reported for List alerts and
	// List machines (microsoft-365-docs#8489). Without $top,
	// choice: past 10,000 results the link repeats the query with $skip
	// advanced by the page, the form reported for /api/machines
	// (microsoft-365-docs#8316: "...?$filter=...&$skip=10000"; the mangled
	// later links quoted there look like a client's PowerShell string
	// interpolation of "$filter" and "$skip", not the service's doing).
	if more && !q.hasTop {
		nextLink = s.URL + r.URL.Path + "?" + q.withSkip(q.skip+int64(len(page)))
	}
	body := alertsBody{
		prefix: endpointPrefix(s.URL, nextLink),
		page:   page,
		expand: q.expand,
	}
	rec.Status = http.StatusOK
	h := w.Header()
	h.Set("Content-Type", endpointContentType)
	h.Set("OData-Version", "4.0")
	w.WriteHeader(http.StatusOK)
	switch {
	case faulted && fault.Truncate:
		cut := body.size() / 2
		bw := bufio.NewWriterSize(&cutWriter{w: w, left: cut}, 64<<10)
		_ = body.write(bw, -1)
		_ = bw.Flush()
		_ = http.NewResponseController(w).Flush()
		simapi.DropConnection(w)
	case faulted && fault.InvalidJSON:
		bw := bufio.NewWriterSize(w, 64<<10)
		_ = body.write(bw, len(page)/2)
		_ = bw.Flush()
	default:
		bw := bufio.NewWriterSize(w, 64<<10)
		if body.write(bw, -1) == nil && bw.Flush() == nil {
			rec.Results = len(page)
		}
	}
}

// endpointAuthenticate checks the bearer token (401 when missing, malformed,
// not signed by the simulator, expired or not yet valid).
func (s *API) endpointAuthenticate(r *http.Request) (*entra.AccessClaims, *endpointError) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, errUnauthorized("Authorization header is missing. Send 'Authorization: Bearer <token>' with an access token for https://api.securitycenter.microsoft.com.", "Bearer")
	}
	// The scheme is case-insensitive (RFC 7235 §2.1), as in ASP.NET.
	scheme, raw, _ := strings.Cut(h, " ")
	raw = strings.TrimSpace(raw)
	if !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return nil, errUnauthorized("Authorization header is invalid: the Bearer scheme with an access token is required.", "Bearer")
	}
	claims, err := s.entra.VerifyAccessToken(raw)
	if err != nil {
		return nil, errUnauthorized(entra.TokenRefusal(err))
	}
	return claims, nil
}

// endpointAuthorize checks audience and roles (403). A token for another
// API, even another Defender one, is refused with 403 (exposed-apis-list.md;
// microsoft-365-docs#9246: "A wrong aud claim gives 403").
func endpointAuthorize(c *entra.AccessClaims) *endpointError {
	appID, ok := entra.ResourceAppID(c.Audience)
	if !(ok && appID == endpointAppID || strings.EqualFold(c.Audience, endpointAppID)) {
		return &endpointError{status: http.StatusForbidden, code: "Forbidden", message: fmt.Sprintf(
			"The access token's audience '%s' is not valid for the Microsoft Defender for Endpoint API (WindowsDefenderATP, %s). Request a token with scope https://api.securitycenter.microsoft.com/.default.", c.Audience, endpointAppID)}
	}
	for _, role := range c.Roles {
		if slices.Contains(apis.Endpoint.Roles, role) {
			return nil
		}
	}
	return &endpointError{status: http.StatusForbidden, code: "Forbidden", message: fmt.Sprintf(
		"The application %s lacks the application permission required to list alerts: grant WindowsDefenderATP 'Alert.Read.All' or 'Alert.ReadWrite.All' and an admin consent in tenant %s.", c.AppID, c.TenantID)}
}

// alertsQuery is a validated query string.
type alertsQuery struct {
	pairs  []simapi.QueryPair
	filter func(*alertKeys) bool
	top    int64
	hasTop bool
	skip   int64
	expand bool
}

// withSkip is the query as sent with $skip replaced by skip, appended last.
func (q *alertsQuery) withSkip(skip int64) string {
	var parts []string
	for _, p := range q.pairs {
		if p.Key != "$skip" {
			parts = append(parts, p.Raw)
		}
	}
	return strings.Join(append(parts, "$skip="+strconv.FormatInt(skip, 10)), "&")
}

// endpointUnsupported are OData system query options the doc does not list
// for List alerts (get-alerts.md). Third-party code sends $orderby anyway;
// choice: refused, so that a client never relies on an unconfirmed option.
var endpointUnsupported = []string{"$orderby", "$select", "$count", "$search", "$format", "$skiptoken",
	"$deltatoken", "$apply", "$compute", "$levels", "$index", "$schemaversion", "$id"}

// parseAlertsQuery validates the query string. Option names are
// case-sensitive, as OData requires of system query options ($Filter is
// not $filter); parameters without '$' are ignored, as ASP.NET OData does
// unless told otherwise.
func parseAlertsQuery(raw string) (*alertsQuery, *endpointError) {
	q := &alertsQuery{}
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err1 := url.QueryUnescape(k)
		value, err2 := url.QueryUnescape(v)
		if err := errors.Join(err1, err2); err != nil {
			return nil, &endpointError{status: http.StatusBadRequest, code: "BadRequest", message: fmt.Sprintf("The query string is malformed: %v.", err)}
		}
		q.pairs = append(q.pairs, simapi.QueryPair{Raw: part, Key: key, Value: value})
	}

	values := map[string]string{}
	for _, p := range q.pairs {
		if !strings.HasPrefix(p.Key, "$") {
			continue
		}
		switch {
		case p.Key == "$filter" || p.Key == "$top" || p.Key == "$skip" || p.Key == "$expand":
			if _, dup := values[p.Key]; dup {
				return nil, errODataQuery(fmt.Sprintf("Query option '%s' was specified more than once, but it must be specified at most once.", p.Key))
			}
			if strings.TrimSpace(p.Value) == "" {
				return nil, errODataQuery(fmt.Sprintf("The value for OData query '%s' cannot be empty.", p.Key))
			}
			values[p.Key] = p.Value
		case slices.Contains(endpointUnsupported, p.Key):
			return nil, errODataQuery(fmt.Sprintf("The query option '%s' is not supported by List alerts, which supports $filter, $top, $skip and $expand.", p.Key))
		default:
			return nil, errODataQuery(fmt.Sprintf("The query parameter '%s' is not supported.", p.Key))
		}
	}

	if v, ok := values["$top"]; ok {
		n, ok := simapi.ParseDotNetInt64(v)
		if !ok || n < 0 {
			return nil, errODataQuery(fmt.Sprintf("Invalid value '%s' for $top query option found. The $top query option requires a non-negative integer value.", v))
		}
		if n > endpointMaxTop {
			return nil, errODataQuery(fmt.Sprintf("The limit of '%d' for Top query has been exceeded. The value from the incoming request is '%d'.", endpointMaxTop, n))
		}
		q.top, q.hasTop = n, true
	}
	if v, ok := values["$skip"]; ok {
		n, ok := simapi.ParseDotNetInt64(v)
		if !ok || n < 0 {
			return nil, errODataQuery(fmt.Sprintf("Invalid value '%s' for $skip query option found. The $skip query option requires a non-negative integer value.", v))
		}
		q.skip = n
	}
	if v, ok := values["$expand"]; ok {
		if e := checkExpand(v); e != nil {
			return nil, e
		}
		q.expand = true
	}
	if v, ok := values["$filter"]; ok {
		f, err := parseEndpointFilter(v)
		if err != nil {
			return nil, errODataQuery(err.Error())
		}
		q.filter = f
	}
	return q, nil
}

// endpointAlertProps are Alert's structural properties, for $expand errors.
var endpointAlertProps = []string{"id", "incidentId", "investigationId", "assignedTo", "severity", "status",
	"classification", "determination", "investigationState", "detectionSource", "detectorId", "category",
	"threatFamilyName", "title", "description", "alertCreationTime", "firstEventTime", "lastEventTime",
	"lastUpdateTime", "resolvedTime", "machineId", "computerDnsName", "rbacGroupName", "aadTenantId",
	"threatName", "mitreTechniques", "relatedUser", "comments"}

// checkExpand accepts "evidence" (case-insensitively, like property names
// in $filter), the only expansion documented for alerts.
func checkExpand(v string) *endpointError {
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		switch {
		case strings.EqualFold(item, "evidence"):
		case strings.Contains(item, "("):
			return errODataQuery(fmt.Sprintf("Nested query options in $expand ('%s') are not supported by List alerts.", item))
		case item == "*":
			return errODataQuery("$expand=* is not supported by List alerts; the only expandable property is 'evidence'.")
		case slices.ContainsFunc(endpointAlertProps, func(p string) bool { return strings.EqualFold(p, item) }):
			return errODataQuery(fmt.Sprintf("Property '%s' on type 'Alert' is not a navigation property or complex property. Only navigation properties can be expanded.", item))
		default:
			return errODataQuery(fmt.Sprintf("Could not find a property named '%s' on type 'Alert'.", item))
		}
	}
	return nil
}

// endpointPrefix is the start of an answer up to "value":[. The next link,
// when there is one, comes before value, where ASP.NET OData writes a link
// known when the set starts (Graph's answers show the same layout).
func endpointPrefix(base, nextLink string) []byte {
	b := []byte(`{"@odata.context":"` + base + `/api/$metadata#Alerts",`)
	if nextLink != "" {
		link, _ := simapi.EncodeWire(nextLink) // a string always encodes
		b = append(append(append(b, `"@odata.nextLink":`...), link...), ',')
	}
	return append(b, `"value":[`...)
}

// alertsBody writes an answer from pre-rendered alerts.
type alertsBody struct {
	prefix []byte
	page   []*Revision
	expand bool
}

var endpointSuffix = []byte("]}")

func (b *alertsBody) size() int {
	n := len(b.prefix) + len(endpointSuffix)
	for i, v := range b.page {
		if i > 0 {
			n++
		}
		n += v.r.size(b.expand)
	}
	return n
}

// write streams the body. When broken >= 0, a cut-off alert is inserted
// before the alert at that index, which makes the JSON invalid in the middle
// of value[] (an unterminated object followed by more elements).
func (b *alertsBody) write(w io.Writer, broken int) error {
	if _, err := w.Write(b.prefix); err != nil {
		return err
	}
	wrote := false
	comma := func() error {
		if !wrote {
			wrote = true
			return nil
		}
		_, err := w.Write([]byte{','})
		return err
	}
	for i, v := range b.page {
		if i == broken {
			if err := comma(); err != nil {
				return err
			}
			if _, err := w.Write(v.r.head[:min(len(v.r.head), len(`{"id":"da637`))]); err != nil {
				return err
			}
		}
		if err := comma(); err != nil {
			return err
		}
		if _, err := w.Write(v.r.head); err != nil {
			return err
		}
		tail := emptyEvidenceTail
		if b.expand {
			if _, err := w.Write(v.r.evidence); err != nil {
				return err
			}
			tail = emptyEvidenceTail[2:]
		}
		if _, err := w.Write(tail); err != nil {
			return err
		}
	}
	if broken >= len(b.page) {
		if err := comma(); err != nil {
			return err
		}
		if _, err := w.Write([]byte(`{"id":`)); err != nil {
			return err
		}
	}
	_, err := w.Write(endpointSuffix)
	return err
}

// cutWriter passes on the first left bytes and then fails.
type cutWriter struct {
	w    io.Writer
	left int
}

var errCut = errors.New("simulator: body cut")

func (c *cutWriter) Write(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errCut
	}
	if len(p) > c.left {
		n, err := c.w.Write(p[:c.left])
		c.left -= n
		if err == nil {
			err = errCut
		}
		return n, err
	}
	n, err := c.w.Write(p)
	c.left -= n
	return n, err
}
