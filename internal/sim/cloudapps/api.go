package cloudapps

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
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

// The Microsoft Defender for Cloud Apps "List alerts" API, GET or POST /api/v1/alerts/ on the
// tenant's portal host, as MicrosoftDocs CloudAppSecurityDocs api-introduction.md, api-alerts.md,
// api-alerts-list.md and api-authentication-application.md describe it
// (learn.microsoft.com/defender-cloud-apps/api-introduction, api-alerts and api-alerts-list; and
// what clients got wrong: demisto/content PR #10592, microsoft/MCAS#69,
// MicrosoftDocs/CloudAppSecurityDocs#628 and #674). Checks run in this order: authentication (401),
// authorization (403), rate limit (429, with injected faults just before it), method (405),
// parameters (400, 415), then the answer.
//
// Where Microsoft is silent the simulator takes the less convenient of the
// plausible behaviours, and says so next to the code. Several choices follow
// one inference: the service is a Django application. microsoft/MCAS
// matches the error "(429) TOO MANY REQUESTS", an upper-case reason phrase
// that older Django versions send, and waits when an error says
// "throttled", the word Django REST framework's throttling answer uses
// ("Request was throttled."). So error bodies are {"detail": "..."}, the
// path without its trailing slash is redirected (Django's APPEND_SLASH), and
// server errors are HTML pages.
//
// The simulator plays every tenant on one host: the tenant is the token's
// tid (or the tenant of a legacy token), not the host name.

// cloudAppsAppID is the "Microsoft Cloud App Security" first-party app;
// its appId is also its only application ID URI (api-authentication-application.md:
// resource 05a65629-…, scope 05a65629-…/.default).
const cloudAppsAppID = "05a65629-4c1b-48c1-a78b-804c4abdd4af"

const (
	// cloudAppsMaxLimit: "Responses for all requests made with the API
	// token are limited to a maximum of 100 items" (api-introduction.md).
	// Choice: the doc names the API token; the cap applies to Entra tokens
	// too, since no document says otherwise.
	cloudAppsMaxLimit = 100
	// cloudAppsDefaultLimit: "If no limit is provided, a default of 100
	// will be set."
	cloudAppsDefaultLimit = 100
	// cloudAppsCountCap is where the service stops counting (see total).
	cloudAppsCountCap = 5000
	// cloudAppsMaxBody bounds a request body. Choice: 1 MiB, far above any
	// filter set.
	cloudAppsMaxBody = 1 << 20
	// cloudAppsLoggedBody is how much of a body APIRequests keeps.
	cloudAppsLoggedBody = 64 << 10
)

// API is the Defender for Cloud Apps alerts API of one simulator.
type API struct {
	simapi.Host
	entra *entra.Service

	mu         sync.Mutex
	tenants    map[string]*Tenant // lower-case tenant ID
	legacy     map[string]*Tenant // legacy API token → tenant
	retryAfter bool
	// countCap is where counting stops: total is at most countCap, and
	// moreThanTotal says that more alerts matched.
	countCap int
}

// New is the API served by the simulator h describes, whose tokens come
// from e; retryAfter is whether its 429s carry Retry-After.
func New(h simapi.Host, e *entra.Service, retryAfter bool) *API {
	return &API{
		Host:       h,
		entra:      e,
		tenants:    map[string]*Tenant{},
		legacy:     map[string]*Tenant{},
		retryAfter: retryAfter,
		countCap:   cloudAppsCountCap,
	}
}

// Facts is the API's line in the registry (sources/apis).
func (s *API) Facts() apis.API { return apis.CloudApps }

// Routes registers the alerts list on mux.
func (s *API) Routes(mux *http.ServeMux) {
	mux.HandleFunc("/api/v1/alerts/{$}", s.handleCloudAppsAlerts)
	mux.HandleFunc("/api/v1/alerts", s.handleCloudAppsNoSlash)
}

// FaultPlan is the fault plan of tenantID.
func (s *API) FaultPlan(tenantID string) *simapi.FaultPlan { return &s.Tenant(tenantID).FaultPlan }

// SetCountCap moves where counting stops (total is at most n), so a test
// need not store the real cap's worth of alerts.
func (s *API) SetCountCap(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.countCap = n
}

// cloudAppsError is an error answer: {"detail": "..."} (Django REST framework's
// shape), or an HTML page for server errors.
type cloudAppsError struct {
	status int
	detail string
	header http.Header
	html   string // when set, the body is this HTML page instead
}

func (e *cloudAppsError) HTTPStatus() int { return e.status }

func (e *cloudAppsError) Error() string { return fmt.Sprintf("%d %s", e.status, e.detail) }

func cloudAppsUnauthorized(detail, challenge string) *cloudAppsError {
	return &cloudAppsError{status: http.StatusUnauthorized, detail: detail, header: http.Header{"Www-Authenticate": {challenge}}}
}

func cloudAppsBadRequest(format string, args ...any) *cloudAppsError {
	return &cloudAppsError{status: http.StatusBadRequest, detail: fmt.Sprintf(format, args...)}
}

// cloudAppsThrottled is the answer beyond the rate limit. Microsoft does not document it
// (CloudAppSecurityDocs#628 asked whether it is a 429 and got no answer); clients handle a 429 and
// a body saying "throttled" (CloudAppSecurityDocs#628; microsoft/MCAS
// Functions/Invoke-MCASRestMethod.ps1). Choice: Django REST framework's answer, whose Retry-After
// is sent only when the server is configured to (Options.CloudAppsRetryAfter); without it the body
// does not say how long to wait either.
func cloudAppsThrottled(wait time.Duration, retryAfter bool) *cloudAppsError {
	e := &cloudAppsError{status: http.StatusTooManyRequests, detail: "Request was throttled."}
	if retryAfter {
		secs := simapi.RetryAfterSeconds(wait)
		e.detail = "Request was throttled. Expected available in " + secs + " seconds."
		e.header = http.Header{"Retry-After": {secs}}
	}
	return e
}

// cloudAppsFaultError is the answer of an injected fault with a status.
// Choice: 5xx bodies are HTML, as Django (500) and a front end (502, 503,
// 504) write them; clients must not expect JSON from a failing service.
func cloudAppsFaultError(f simapi.Fault) *cloudAppsError {
	status := f.ErrorStatus()
	var e *cloudAppsError
	switch {
	case f.Throttled || status == http.StatusTooManyRequests:
		e = &cloudAppsError{status: status, detail: "Request was throttled."}
	case status == http.StatusInternalServerError:
		e = &cloudAppsError{status: status, html: "\n<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Server Error (500)</title>\n</head>\n<body>\n  <h1>Server Error (500)</h1><p></p>\n</body>\n</html>\n"}
	case status >= 500:
		text := http.StatusText(status)
		e = &cloudAppsError{status: status, html: fmt.Sprintf("<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n</body>\r\n</html>\r\n", status, text, status, text)}
	case status == http.StatusUnauthorized:
		e = &cloudAppsError{status: status, detail: "Invalid token."}
	case status == http.StatusForbidden:
		e = &cloudAppsError{status: status, detail: "You do not have permission to perform this action."}
	case status == http.StatusNotFound:
		e = &cloudAppsError{status: status, detail: "Not found."}
	default:
		e = &cloudAppsError{status: status, detail: http.StatusText(status) + "."}
	}
	if f.RetryAfter > 0 {
		e.header = http.Header{"Retry-After": {simapi.RetryAfterSeconds(f.RetryAfter)}}
	}
	return e
}

func writeCloudAppsError(w http.ResponseWriter, e *cloudAppsError) {
	h := w.Header()
	for k, v := range e.header {
		h[k] = v
	}
	if e.html != "" {
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(e.status)
		_, _ = io.WriteString(w, e.html)
		return
	}
	body, _ := simapi.EncodeWire(struct {
		Detail string `json:"detail"`
	}{e.detail}) // a string always encodes
	h.Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}

// handleCloudAppsNoSlash answers /api/v1/alerts, the documented path
// without its trailing slash. Choice: Django's APPEND_SLASH redirect, 301
// to the path with the slash and the same query, for every method and
// before authentication. A client that follows it with a POST sends a GET
// without the body, as HTTP clients do on 301, and gets the unfiltered
// first page: the documented path is the only safe one.
func (s *API) handleCloudAppsNoSlash(w http.ResponseWriter, r *http.Request) {
	rec := simapi.Request{Time: time.Now(), API: "cloudapps", Path: r.URL.Path, Query: simapi.DecodedQuery(r.URL.RawQuery), Status: http.StatusMovedPermanently}
	if b, err := io.ReadAll(io.LimitReader(r.Body, cloudAppsLoggedBody)); err == nil {
		rec.Body = string(b)
	}
	defer s.Env.Record(rec)
	target := r.URL.Path + "/"
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", target)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusMovedPermanently)
}

// handleCloudAppsAlerts serves GET and POST /api/v1/alerts/.
func (s *API) handleCloudAppsAlerts(w http.ResponseWriter, r *http.Request) {
	simapi.Run[*cloudAppsError](s.Env, w, r, &cloudAppsCall{s: s})
}

// cloudAppsCall is one request to the Cloud Apps alerts API in the
// pipeline. It reads the body first: the API takes its parameters there.
type cloudAppsCall struct {
	s    *API
	body []byte
	t    *Tenant
	// retryAfter and countCap are the server's settings when the request
	// was authorized.
	retryAfter bool
	countCap   int
}

func (c *cloudAppsCall) API() string { return apis.CloudApps.Name }

func (c *cloudAppsCall) Begin(_ http.ResponseWriter, r *http.Request, rec *simapi.Request) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, cloudAppsMaxBody+1))
	rec.Body = string(body[:min(len(body), cloudAppsLoggedBody)])
	c.body = body
	return err == nil
}

func (c *cloudAppsCall) LogDone(r *http.Request, rec *simapi.Request, elapsed time.Duration) {
	c.s.Logger.Info("cloudapps request", "tenant", rec.TenantID, "app", rec.AppID, "method", r.Method, "path", rec.Path,
		"status", rec.Status, "results", rec.Results, "elapsed", elapsed)
}

func (c *cloudAppsCall) Authorize(r *http.Request, rec *simapi.Request) (simapi.Caller, *cloudAppsError, bool) {
	t, e := c.s.cloudAppsAuthenticate(r, rec)
	if e != nil {
		return simapi.Caller{}, e, false
	}
	c.t = t
	c.retryAfter, c.countCap = c.s.cloudAppsConfig()
	var throttleRetry time.Duration
	if c.retryAfter {
		throttleRetry = time.Second
	}
	return simapi.Caller{Window: &t.calls, Faults: &t.FaultPlan, ThrottleRetry: throttleRetry}, nil, true
}

func (c *cloudAppsCall) FaultError(f simapi.Fault) *cloudAppsError { return cloudAppsFaultError(f) }

func (c *cloudAppsCall) Throttled(wait time.Duration, _ simapi.RateLimit) *cloudAppsError {
	return cloudAppsThrottled(wait, c.retryAfter)
}

func (c *cloudAppsCall) WriteError(w http.ResponseWriter, e *cloudAppsError) {
	writeCloudAppsError(w, e)
}

// serve answers List alerts.
func (c *cloudAppsCall) Serve(w http.ResponseWriter, r *http.Request, rec *simapi.Request, fault simapi.Fault, faulted bool) {
	s, t, body, countCap := c.s, c.t, c.body, c.countCap
	fail := func(e *cloudAppsError) {
		rec.Status = e.status
		writeCloudAppsError(w, e)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST, HEAD")
		fail(&cloudAppsError{status: http.StatusMethodNotAllowed, detail: fmt.Sprintf("Method %q not allowed.", r.Method)})
		return
	}
	if len(body) > cloudAppsMaxBody {
		fail(&cloudAppsError{status: http.StatusRequestEntityTooLarge, detail: "Request body too large."})
		return
	}
	now := s.Now()
	p, e := parseCloudAppsParams(r, body, now)
	if e != nil {
		fail(e)
		return
	}
	page, matched := t.query(now, p)

	out := cloudAppsAnswer{page: page, matched: matched, skip: p.skip, countCap: countCap}
	rec.Status = http.StatusOK
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	simapi.WritePage(w, rec, fault, faulted, len(page), out.render)
}

// cloudAppsAnswer is a List alerts answer.
type cloudAppsAnswer struct {
	page     []*Revision
	matched  int
	skip     int64
	countCap int
}

// render writes {"data":[...],"hasNext":…,"max":…,"total":…,
// "moreThanTotal":…}, the keys in the documented order. When broken >= 0 a
// cut-off alert is inserted before the alert at that index, which makes the
// JSON invalid inside data.
//
// The documents do not define max and moreThanTotal (api-alerts-list.md); the
// simulator reads them so:
//   - total counts the alerts that match, but the service stops counting at
//     5,000: past that, total is 5,000 and moreThanTotal is true. A client
//     must not size its work by total.
//   - max is the number of alerts in data. In the documented example it is
//     1 with one alert; microsoft/MCAS reads it from an unfiltered request
//     as the most a call returns, which is the same number there (100).
//   - hasNext is true when alerts that match remain after this page.
func (a *cloudAppsAnswer) render(broken int) []byte {
	size := 128
	for _, r := range a.page {
		size += len(r.body) + 1
	}
	b := make([]byte, 0, size)
	b = append(b, `{"data":[`...)
	for i, r := range a.page {
		if i == broken {
			b = append(b, `{"_id":"`...)
			b = append(b, r.keys.id[:len(r.keys.id)/2]...)
			b = append(b, ',')
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, r.body...)
	}
	if broken >= len(a.page) {
		if len(a.page) > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"_id":`...)
	}
	b = append(b, `],"hasNext":`...)
	b = strconv.AppendBool(b, a.skip+int64(len(a.page)) < int64(a.matched))
	b = append(b, `,"max":`...)
	b = strconv.AppendInt(b, int64(len(a.page)), 10)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(min(a.matched, a.countCap)), 10)
	b = append(b, `,"moreThanTotal":`...)
	b = strconv.AppendBool(b, a.matched > a.countCap)
	return append(b, '}')
}

// cloudAppsAuthenticate finds the tenant of the request's credentials:
// a Bearer token of the simulator for the Cloud Apps resource with a role
// that lists alerts, or a legacy API token configured with SetLegacyToken.
// Missing, malformed, unknown, expired credentials and tokens for another
// resource are 401; a valid token without a listing role is 403.
//
// Choice: a token for another resource is a 401 (the audience is part of
// validating a bearer token, RFC 6750 invalid_token), not the 403 that
// Defender for Endpoint documents for its own API. The scheme names compare
// case-insensitively, as in Django REST framework.
func (s *API) cloudAppsAuthenticate(r *http.Request, rec *simapi.Request) (*Tenant, *cloudAppsError) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, cloudAppsUnauthorized("Authentication credentials were not provided. Send 'Authorization: Bearer <token>' with an access token for Microsoft Defender for Cloud Apps ("+cloudAppsAppID+"), or 'Authorization: Token <API token>'.", "Bearer")
	}
	scheme, raw, _ := strings.Cut(h, " ")
	raw = strings.TrimSpace(raw)
	switch {
	case strings.EqualFold(scheme, "Token"):
		if raw == "" {
			return nil, cloudAppsUnauthorized("Invalid token header. No credentials provided.", "Bearer")
		}
		t := s.legacyTenant(raw)
		if t == nil {
			return nil, cloudAppsUnauthorized("Invalid token.", "Bearer")
		}
		rec.TenantID = t.id
		return t, nil
	case strings.EqualFold(scheme, "Bearer"):
	default:
		return nil, cloudAppsUnauthorized(fmt.Sprintf("Authorization scheme %q is not supported: send 'Bearer <access token>' or 'Token <API token>'.", scheme), "Bearer")
	}
	if raw == "" {
		return nil, cloudAppsUnauthorized("Invalid token header. No credentials provided.", "Bearer")
	}
	claims, err := s.entra.VerifyAccessToken(raw)
	if err != nil {
		return nil, cloudAppsUnauthorized(entra.TokenRefusal(err))
	}
	rec.TenantID, rec.AppID, rec.TokenID = claims.TenantID, claims.AppID, claims.TokenID
	if appID, ok := entra.ResourceAppID(claims.Audience); !(ok && appID == cloudAppsAppID || strings.EqualFold(claims.Audience, cloudAppsAppID)) {
		return nil, cloudAppsUnauthorized(fmt.Sprintf("The access token's audience '%s' is not Microsoft Defender for Cloud Apps. Request a token with scope %s/.default (resource %s).", claims.Audience, cloudAppsAppID, cloudAppsAppID),
			`Bearer error="invalid_token", error_description="The audience is invalid"`)
	}
	if !slices.ContainsFunc(claims.Roles, func(role string) bool { return slices.Contains(apis.CloudApps.Roles, role) }) {
		return nil, &cloudAppsError{status: http.StatusForbidden, detail: fmt.Sprintf(
			"You do not have permission to perform this action. The application %s needs one of the Microsoft Cloud App Security application permissions %s, with admin consent in tenant %s.",
			claims.AppID, strings.Join(apis.CloudApps.Roles, ", "), claims.TenantID)}
	}
	return s.Tenant(claims.TenantID), nil
}

// cloudAppsParams are the validated parameters of a request.
type cloudAppsParams struct {
	filter    cloudAppsPred
	skip      int64
	limit     int64
	sortField string // "", "date" or "severity"
	desc      bool
}

// formValue is a parameter sent as text (query string, form data), as
// opposed to a value of a JSON body.
type formValue string

var cloudAppsParamNames = []string{"filters", "skip", "limit", "sortField", "sortDirection"}

// parseCloudAppsParams reads the parameters from the query string and the body
// and validates them. The docs list the encodings "URL-encoded (with
// Content-Type: application/x-www-form-urlencoded)", "Form data" and "JSON
// body" (api-introduction.md), and show GET with a JSON body.
//
// Choices where they are silent: a parameter in both the query string and
// the body takes the body's value; a body needs a Content-Type, else 415;
// a form-encoded body that is a JSON object is read as JSON, because the
// docs' curl examples send JSON with curl's default form content type;
// parameters the docs do not list are ignored (a misspelt sortField sorts
// nothing).
func parseCloudAppsParams(r *http.Request, body []byte, now time.Time) (*cloudAppsParams, *cloudAppsError) {
	raw := map[string]any{}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, cloudAppsBadRequest("The query string is malformed: %v.", err)
	}
	for _, name := range cloudAppsParamNames {
		if vs := q[name]; len(vs) > 0 {
			raw[name] = formValue(vs[len(vs)-1])
		}
	}
	if e := readCloudAppsBody(r.Header.Get("Content-Type"), body, raw); e != nil {
		return nil, e
	}

	p := &cloudAppsParams{limit: cloudAppsDefaultLimit}
	if v, ok := raw["skip"]; ok && v != nil {
		n, err := paramInt(v)
		if err != nil || n < 0 {
			return nil, cloudAppsBadRequest("skip must be an integer >= 0, got %s.", paramKind(v))
		}
		p.skip = n
	}
	if v, ok := raw["limit"]; ok && v != nil {
		n, err := paramInt(v)
		if err != nil || n < 0 {
			return nil, cloudAppsBadRequest("limit must be an integer >= 0, got %s.", paramKind(v))
		}
		// Choice: limit 0 means no limit, as in MongoDB, and so the cap.
		if n > 0 {
			p.limit = n
		}
	}
	p.limit = min(p.limit, cloudAppsMaxLimit)

	field, err := paramString(raw["sortField"])
	if err != nil || field != "" && field != "date" && field != "severity" {
		return nil, cloudAppsBadRequest("sortField must be 'date' (when the alert was created) or 'severity', got %s.", paramKind(raw["sortField"]))
	}
	dir, err := paramString(raw["sortDirection"])
	if err != nil || dir != "" && dir != "asc" && dir != "desc" {
		return nil, cloudAppsBadRequest("sortDirection must be 'asc' or 'desc', got %s.", paramKind(raw["sortDirection"]))
	}
	// Choice: a sortField without a direction sorts descending (newest or
	// most severe first, as the portal lists alerts); a direction without a
	// sortField is ignored and the order stays unspecified.
	p.sortField, p.desc = field, dir != "asc"

	filters := raw["filters"]
	if fv, ok := filters.(formValue); ok {
		if strings.TrimSpace(string(fv)) == "" {
			filters = nil
		} else if filters, err = decodeJSON([]byte(fv)); err != nil {
			return nil, cloudAppsBadRequest("filters is not valid JSON: %v.", err)
		}
	}
	if p.filter, err = parseCloudAppsFilters(filters, now); err != nil {
		return nil, cloudAppsBadRequest("Invalid filters: %v.", err)
	}
	return p, nil
}

// readCloudAppsBody adds the body's parameters to raw.
func readCloudAppsBody(contentType string, body []byte, raw map[string]any) *cloudAppsError {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if contentType == "" {
		return &cloudAppsError{status: http.StatusUnsupportedMediaType, detail: `Unsupported media type "" in request: send the parameters with Content-Type: application/json, application/x-www-form-urlencoded or multipart/form-data.`}
	}
	mt, mp, err := mime.ParseMediaType(contentType)
	if err != nil {
		return cloudAppsBadRequest("The Content-Type %q is malformed: %v.", contentType, err)
	}
	looksJSON := bytes.HasPrefix(bytes.TrimSpace(body), []byte("{"))
	switch {
	case mt == "application/json" || (mt == "application/x-www-form-urlencoded" && looksJSON):
		return mergeJSONBody(body, raw)
	case mt == "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return cloudAppsBadRequest("The form body is malformed: %v.", err)
		}
		for _, name := range cloudAppsParamNames {
			if vs := form[name]; len(vs) > 0 {
				raw[name] = formValue(vs[len(vs)-1])
			}
		}
		return nil
	case mt == "multipart/form-data":
		form, err := multipart.NewReader(bytes.NewReader(body), mp["boundary"]).ReadForm(cloudAppsMaxBody)
		if err != nil {
			// The doc's third encoding: "JSON body (with Content-Type:
			// multipart/form-data and an appropriate boundary header)".
			if looksJSON {
				return mergeJSONBody(body, raw)
			}
			return cloudAppsBadRequest("The multipart body is malformed: %v.", err)
		}
		defer func() { _ = form.RemoveAll() }()
		for _, name := range cloudAppsParamNames {
			if vs := form.Value[name]; len(vs) > 0 {
				raw[name] = formValue(vs[len(vs)-1])
			}
		}
		return nil
	}
	return &cloudAppsError{status: http.StatusUnsupportedMediaType, detail: fmt.Sprintf("Unsupported media type %q in request: send the parameters with Content-Type: application/json, application/x-www-form-urlencoded or multipart/form-data.", mt)}
}

func mergeJSONBody(body []byte, raw map[string]any) *cloudAppsError {
	v, err := decodeJSON(body)
	if err != nil {
		return cloudAppsBadRequest("JSON parse error - %v", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return cloudAppsBadRequest("JSON parse error - the body must be a JSON object of parameters (filters, skip, limit, sortField, sortDirection), got %s", jsonKind(v))
	}
	for _, name := range cloudAppsParamNames {
		if x, ok := obj[name]; ok {
			raw[name] = x
		}
	}
	return nil
}

// decodeJSON decodes one JSON value, numbers as json.Number.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

// paramInt reads skip and limit: a JSON integer, or text of one (form
// fields, and strings in JSON, as a Python int() would take them).
func paramInt(v any) (int64, error) {
	switch x := v.(type) {
	case formValue:
		return strconv.ParseInt(strings.TrimSpace(string(x)), 10, 64)
	case string:
		return strconv.ParseInt(strings.TrimSpace(x), 10, 64)
	}
	return integer(v)
}

func paramString(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case formValue:
		return string(x), nil
	case string:
		return x, nil
	}
	return "", errors.New("not a string")
}

func paramKind(v any) string {
	if f, ok := v.(formValue); ok {
		return strconv.Quote(string(f))
	}
	return jsonKind(v)
}
