package graph

import (
	"errors"
	"fmt"
	"hash/fnv"
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

// Microsoft Graph's security incidents: "List incidents", GET
// /v1.0/security/incidents (learn.microsoft.com/graph/api/security-list-incidents),
// and "Get incident", GET /v1.0/security/incidents/{id}
// (learn.microsoft.com/graph/api/security-incident-get), with the resource of
// learn.microsoft.com/graph/api/resources/security-incident. It is the same
// Graph service as alerts_v2: the same token audience, correlation headers
// and error shapes, and the alerts it expands are alerts_v2's. It is its own
// part of the simulator because its permissions (SecurityIncident.Read.All
// or .ReadWrite.All), rate limits (keyed "incidents") and faults are its
// own. Checks run in alerts_v2's order: authentication (401), authorization
// (403), faults and rate limit (429), path, method, query options (400),
// then the answer.
//
// The failure modelled (elastic/integrations#18144 and #18277): on large
// tenants, List incidents with $expand=alerts and a $filter answers a
// persistent 500 when the page holds incidents with many alerts (their
// estimate: more than 100); the same list without $expand works, and so does
// Get incident with $expand=alerts. Here a list request with both
// $expand=alerts and $filter whose page holds an incident with more alerts
// than the tenant's expand limit (IncidentTenant.SetExpandLimit) answers 500
// generalException, every time.

const (
	// incidentsDefaultTop is the page size without $top. Not documented
	// ("Use @odata.nextLink for pagination" is all the page says). Choice:
	// 20, below the page cap, so that a client that omits $top must follow
	// @odata.nextLink, and a client that takes a page shorter than the cap
	// for the last one loses incidents.
	incidentsDefaultTop = 20
	// incidentsMaxSkip bounds $skip only to keep positions small; Microsoft
	// documents no limit for incidents (alerts_v2's 500 is for the legacy
	// alerts).
	incidentsMaxSkip = 1 << 30
)

// IncidentsAPI is Microsoft Graph's security incidents of one simulator.
type IncidentsAPI struct {
	simapi.Host
	graph *API

	mu      sync.Mutex
	tenants map[string]*IncidentTenant // lower-case tenant ID
}

// NewIncidents is the incidents API served by the simulator h describes,
// beside g's alerts_v2: its tokens, errors and alerts are g's.
func NewIncidents(h simapi.Host, g *API) *IncidentsAPI {
	s := &IncidentsAPI{Host: h, graph: g, tenants: map[string]*IncidentTenant{}}
	g.incidents = s
	return s
}

// Facts is the API's line in the registry (sources/apis).
func (s *IncidentsAPI) Facts() apis.API { return apis.Incidents }

// Routes registers /v1.0/security/incidents[/{id}] on mux. The patterns are
// more specific than alerts_v2's /v1.0/security/{name}[/{rest...}], so the
// mux prefers them.
func (s *IncidentsAPI) Routes(mux *http.ServeMux) {
	mux.HandleFunc("/v1.0/security/incidents", s.handle)
	mux.HandleFunc("/v1.0/security/incidents/{id}", s.handle)
	mux.HandleFunc("/v1.0/security/incidents/{id}/{rest...}", s.handle)
}

// FaultPlan is the fault plan of tenantID.
func (s *IncidentsAPI) FaultPlan(tenantID string) *simapi.FaultPlan {
	return &s.Tenant(tenantID).FaultPlan
}

func (s *IncidentsAPI) handle(w http.ResponseWriter, r *http.Request) {
	simapi.Run[*graphError](s.Env, w, r, &incidentsCall{s: s, ids: newGraphIDs(r)})
}

// incidentsCall is one request to the incidents API in the pipeline.
type incidentsCall struct {
	s   *IncidentsAPI
	ids graphIDs
	t   *IncidentTenant
}

func (c *incidentsCall) API() string { return apis.Incidents.Name }

func (c *incidentsCall) Begin(w http.ResponseWriter, _ *http.Request, _ *simapi.Request) bool {
	c.ids.setHeaders(w.Header())
	return true
}

func (c *incidentsCall) LogDone(r *http.Request, rec *simapi.Request, elapsed time.Duration) {
	c.s.Logger.Info("graph incidents request", "tenant", rec.TenantID, "app", rec.AppID, "method", r.Method, "path", rec.Path,
		"query", rec.Query, "status", rec.Status, "results", rec.Results, "request_id", c.ids.request, "elapsed", elapsed)
}

func (c *incidentsCall) Authorize(r *http.Request, rec *simapi.Request) (simapi.Caller, *graphError, bool) {
	claims, e := c.s.graph.graphAuthenticate(r)
	if e != nil {
		return simapi.Caller{}, e, false
	}
	rec.TenantID, rec.AppID, rec.TokenID = claims.TenantID, claims.AppID, claims.TokenID
	if e := incidentsAuthorize(claims); e != nil {
		return simapi.Caller{}, e, false
	}
	c.t = c.s.Tenant(claims.TenantID)
	return simapi.Caller{Window: c.t.window(claims.AppID), Faults: &c.t.FaultPlan, ThrottleRetry: time.Second}, nil, true
}

// incidentsAuthorize checks the roles (403 Forbidden), with the message
// Graph sends for a missing application role (as alerts_v2's).
func incidentsAuthorize(c *entra.AccessClaims) *graphError {
	if slices.ContainsFunc(c.Roles, func(role string) bool { return slices.Contains(apis.Incidents.Roles, role) }) {
		return nil
	}
	return &graphError{status: http.StatusForbidden, code: "Forbidden", message: fmt.Sprintf(
		"Missing application roles. API required roles: %s, application roles: %s.", strings.Join(apis.Incidents.Roles, ","), strings.Join(c.Roles, ","))}
}

func (c *incidentsCall) FaultError(f simapi.Fault) *graphError { return graphFaultError(f) }

func (c *incidentsCall) Throttled(wait time.Duration, _ simapi.RateLimit) *graphError {
	return graphThrottled(wait)
}

func (c *incidentsCall) WriteError(w http.ResponseWriter, e *graphError) {
	writeGraphError(w, c.ids, e)
}

// Serve answers List incidents and Get incident.
func (c *incidentsCall) Serve(w http.ResponseWriter, r *http.Request, rec *simapi.Request, fault simapi.Fault, faulted bool) {
	fail := func(e *graphError) {
		rec.Status = e.status
		writeGraphError(w, c.ids, e)
	}
	id, rest := r.PathValue("id"), r.PathValue("rest")
	if rest != "" {
		// Navigation (/incidents/{id}/alerts) and the other operations
		// exist in Graph; the simulator serves only List and Get.
		fail(&graphError{status: http.StatusNotImplemented, code: "notSupported",
			message: "The simulator serves only List incidents and Get incident (GET /v1.0/security/incidents[/{id}])."})
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		// Update incident (PATCH) exists; the simulator reads only.
		w.Header().Set("Allow", "GET, HEAD")
		fail(&graphError{status: http.StatusMethodNotAllowed, code: "BadRequest",
			message: fmt.Sprintf("The HTTP method '%s' is not allowed for 'incidents'; the simulator supports GET.", r.Method)})
		return
	}
	includeUnknown := prefers(r.Header, preferUnknownEnums)
	q, e := c.s.parseQuery(r.URL.RawQuery, includeUnknown, id == "")
	if e != nil {
		fail(e)
		return
	}
	now := c.s.Now()
	var body incidentsBody
	if id == "" {
		body, e = c.list(r, q, now)
	} else {
		body, e = c.get(id, q, now)
	}
	if e != nil {
		fail(e)
		return
	}
	body.includeUnknown = includeUnknown
	if q.expand {
		body.alerts = make([][]*graphRevision, len(body.page))
		for i, p := range body.page {
			body.alerts[i] = c.t.graph.incidentAlerts(p.alerts, now)
		}
	}

	rec.Status = http.StatusOK
	h := w.Header()
	h.Set("Content-Type", graphContentType)
	h.Set("OData-Version", "4.0")
	if includeUnknown {
		h.Set("Preference-Applied", preferUnknownEnums)
	}
	w.WriteHeader(http.StatusOK)
	simapi.WritePage(w, rec, fault, faulted, len(body.page), body.render)
}

// list is a page of List incidents.
func (c *incidentsCall) list(r *http.Request, q *incidentsQuery, now time.Time) (incidentsBody, *graphError) {
	s := c.s
	matched := c.t.query(now, q.filter)
	offset := min(q.offset, int64(len(matched)))
	end := min(offset+q.top, int64(len(matched)))
	page := matched[offset:end]
	if q.expand && q.filter != nil {
		if limit := c.t.currentExpandLimit(); limit > 0 && slices.ContainsFunc(page, func(r *incidentRevision) bool { return len(r.alerts) > limit }) {
			// elastic/integrations#18144: persistent, for as long as the
			// page holds the incident.
			return incidentsBody{}, &graphError{status: http.StatusInternalServerError, code: "generalException",
				message: "An unspecified error has occurred."}
		}
	}
	context := "/v1.0/$metadata#security/incidents"
	if q.expand {
		context += "(alerts())"
	}
	prefix := []byte(`{"@odata.context":` + string(jsonString(s.URL+context)))
	if q.count {
		prefix = append(append(prefix, `,"@odata.count":`...), strconv.Itoa(len(matched))...)
	}
	if end < int64(len(matched)) {
		next := s.URL + r.URL.Path + "?" + q.nextQuery(s.graph.skipToken(end, q.fingerprint))
		prefix = append(append(prefix, `,"@odata.nextLink":`...), jsonString(next)...)
	}
	prefix = append(prefix, `,"value":[`...)
	return incidentsBody{prefix: prefix, suffix: []byte("]}"), page: page}, nil
}

// get is Get incident: the incident's newest visible version, or 404.
func (c *incidentsCall) get(id string, q *incidentsQuery, now time.Time) (incidentsBody, *graphError) {
	if status := c.t.brokenGet(id); status != 0 {
		return incidentsBody{}, graphFaultError(simapi.Fault{Status: status})
	}
	rev := c.t.visible(id, now)
	if rev == nil {
		return incidentsBody{}, &graphError{status: http.StatusNotFound, code: "itemNotFound",
			message: fmt.Sprintf("Incident with id '%s' was not found.", id)}
	}
	context := "/v1.0/$metadata#security/incidents/$entity"
	if q.expand {
		context = "/v1.0/$metadata#security/incidents(alerts())/$entity"
	}
	// The entity's own members follow the context in the same object.
	return incidentsBody{prefix: []byte(`{"@odata.context":` + string(jsonString(c.s.URL+context)) + ","),
		page: []*incidentRevision{rev}, single: true}, nil
}

// incidentsBody is an answer of List incidents (a page in value) or Get
// incident (one entity, single).
type incidentsBody struct {
	prefix, suffix []byte
	page           []*incidentRevision
	alerts         [][]*graphRevision // per incident, with $expand=alerts
	single         bool
	includeUnknown bool
}

// render writes the answer. When broken >= 0, a cut-off incident is
// inserted before the incident at that index, which makes the JSON invalid.
func (b *incidentsBody) render(broken int) []byte {
	out := append([]byte(nil), b.prefix...)
	for i, r := range b.page {
		if i > 0 {
			out = append(out, ',')
		}
		if i == broken {
			out = append(out, `{"@odata.type":"#microsoft.graph.security.incident","id":"`...)
			out = append(out, r.inc.ID[:len(r.inc.ID)/2]...)
			out = append(out, ',')
		}
		head := r.served(b.includeUnknown)
		if b.single {
			head = head[1:] // the members only: the prefix opened the object
		}
		out = append(out, head...)
		if b.alerts != nil {
			out = append(out, `,"alerts":[`...)
			for j, a := range b.alerts[i] {
				if j > 0 {
					out = append(out, ',')
				}
				out = append(out, a.served(b.includeUnknown)...)
			}
			out = append(out, ']')
		}
		out = append(out, '}')
	}
	if broken >= len(b.page) {
		if len(b.page) > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"@odata.type":`...)
	}
	return append(out, b.suffix...)
}

// incidentsQuery is a validated query string.
type incidentsQuery struct {
	pairs       []simapi.QueryPair
	filter      func(*graphKeys) bool
	expand      bool
	top         int64 // page size, at most the page cap
	offset      int64 // from $skip or $skiptoken
	count       bool
	fingerprint uint64 // what a $skiptoken must have been issued for
}

// incidentsListOptions are the system query options List incidents
// documents ("$count, $filter, $skip, $top, $expand"), plus $skiptoken,
// which only its own @odata.nextLink carries. Get incident takes $expand.
var (
	incidentsListOptions = []string{"$count", "$filter", "$skip", "$top", "$expand", "$skiptoken"}
	incidentsGetOptions  = []string{"$expand"}
)

// parseQuery validates the query string as alerts_v2's parseGraphQuery
// does: names case-sensitive, duplicates and empty values a 400, other
// system query options a 400, parameters without '$' ignored.
func (s *IncidentsAPI) parseQuery(raw string, includeUnknown, list bool) (*incidentsQuery, *graphError) {
	q := &incidentsQuery{top: incidentsDefaultTop}
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err1 := url.QueryUnescape(k)
		value, err2 := url.QueryUnescape(v)
		if err := errors.Join(err1, err2); err != nil {
			return nil, graphBadRequest("The query string is malformed: %v.", err)
		}
		q.pairs = append(q.pairs, simapi.QueryPair{Raw: part, Key: key, Value: value})
	}
	allowed, op := incidentsListOptions, "List incidents, which supports $count, $filter, $skip, $top and $expand"
	if !list {
		allowed, op = incidentsGetOptions, "Get incident, which supports $expand"
	}
	values := map[string]string{}
	for _, p := range q.pairs {
		if !strings.HasPrefix(p.Key, "$") {
			continue
		}
		switch {
		case slices.Contains(allowed, p.Key):
			if _, dup := values[p.Key]; dup {
				return nil, graphBadRequest("Query option '%s' was specified more than once, but it must be specified at most once.", p.Key)
			}
			if strings.TrimSpace(p.Value) == "" {
				return nil, graphBadRequest("The value for OData query '%s' cannot be empty.", p.Key)
			}
			values[p.Key] = p.Value
		case slices.Contains(incidentsListOptions, p.Key) || slices.Contains(graphUnsupported, p.Key):
			return nil, graphBadRequest("Query option '%s' is not supported by %s.", p.Key, op)
		default:
			return nil, graphBadRequest("The query parameter '%s' is not supported.", p.Key)
		}
	}

	if v, ok := values["$expand"]; ok {
		// Only the alerts relationship; nested options (alerts($select=id))
		// are not simulated.
		if v != "alerts" {
			return nil, graphBadRequest("Could not find a property named '%s' on type 'microsoft.graph.security.incident'; $expand supports 'alerts'.", v)
		}
		q.expand = true
	}
	if v, ok := values["$top"]; ok {
		n, ok := simapi.ParseDotNetInt64(v)
		if !ok || n < 1 {
			return nil, graphBadRequest("Invalid value '%s' for $top query option found. The $top query option requires a positive integer value.", v)
		}
		q.top = min(n, int64(apis.Incidents.PageCap)) // clamped, not refused, as alerts_v2's $top
	}
	if v, ok := values["$skip"]; ok {
		n, ok := simapi.ParseDotNetInt64(v)
		if !ok || n < 0 || n > incidentsMaxSkip {
			return nil, graphBadRequest("Invalid value '%s' for $skip query option found. The $skip query option requires a non-negative integer value.", v)
		}
		q.offset = n
	}
	if v, ok := values["$count"]; ok {
		switch v {
		case "true":
			q.count = true
		case "false":
		default:
			return nil, graphBadRequest("Invalid value '%s' for $count query option found. Valid values are 'true' and 'false'.", v)
		}
	}
	if v, ok := values["$filter"]; ok {
		f, err := parseIncidentFilter(v, includeUnknown)
		if err != nil {
			return nil, graphBadRequest("Invalid filter clause: %s", err.Error())
		}
		q.filter = f
	}
	q.fingerprint = incidentsFingerprint(values["$filter"], values["$expand"], q.top, q.count)
	if v, ok := values["$skiptoken"]; ok {
		if _, both := values["$skip"]; both {
			return nil, graphBadRequest("$skip and $skiptoken cannot be combined: follow @odata.nextLink as it is.")
		}
		offset, ok := s.graph.readSkipToken(v, q.fingerprint)
		if !ok {
			return nil, graphBadRequest("The $skiptoken is invalid or was issued for another query; follow @odata.nextLink as it is.")
		}
		q.offset = offset
	}
	return q, nil
}

// nextQuery is the query as sent with $skip and $skiptoken replaced by
// token, appended last (as alerts_v2's).
func (q *incidentsQuery) nextQuery(token string) string {
	var parts []string
	for _, p := range q.pairs {
		if p.Key != "$skip" && p.Key != "$skiptoken" {
			parts = append(parts, p.Raw)
		}
	}
	return strings.Join(append(parts, "$skiptoken="+token), "&")
}

// incidentsFingerprint binds a skiptoken to its query; "incidents" keeps an
// alerts_v2 token from being replayed here.
func incidentsFingerprint(filter, expand string, top int64, count bool) uint64 {
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "incidents|%q|%q|%d|%t", filter, expand, top, count)
	return h.Sum64()
}
