package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/sim/endpoint"
	"github.com/alertexport/alertexport/internal/sim/graph"
	"github.com/alertexport/alertexport/internal/sim/simapi"
)

const (
	appGraphR   = "3e4f5061-7283-4a94-b5c6-d7e8f90a1b2c" // SecurityAlert.Read.All (and Defender roles, for audience tests)
	appGraphRW  = "4f506172-8394-4aa5-86d7-e8f90a1b2c3d" // SecurityAlert.ReadWrite.All
	appGraphInc = "50617283-94a5-4bb6-97e8-f90a1b2c3d4e" // SecurityIncident.Read.All only
	graphUS     = "https://graph.microsoft.us"
	graphDoD    = "https://dod-graph.microsoft.us"
	alertsV2    = "/v1.0/security/alerts_v2"
)

// graphFixture is newFixture plus the apps the Graph tests need. Unless
// opts says otherwise no API has a rate limit, so tests can send many
// requests.
func graphFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	unlimited(&opts, APIGraph, APIEndpoint, APICloudApps)
	f := newFixture(t, opts)
	for _, a := range []struct{ id, secret, role string }{
		{appGraphR, "r", "SecurityAlert.Read.All"}, {appGraphRW, "rw", "SecurityAlert.ReadWrite.All"}, {appGraphInc, "inc", "SecurityIncident.Read.All"},
	} {
		f.s.RegisterApp(App{ClientID: a.id, Secrets: []Secret{{Value: a.secret}}})
		f.s.Grant(tenantA, a.id, graphRes, a.role)
	}
	f.s.Grant(tenantA, appGraphR, mde, "Alert.Read.All")
	f.s.Grant(tenantA, appGraphR, CloudAppsResource, "Investigation.read")
	return f
}

func graphToken(t *testing.T, f *fixture) string {
	t.Helper()
	return tokenFor(t, f.s, tenantA, appGraphR, "r", graphRes)
}

// graphGet sends method pathQuery with the token (none when "") and the
// extra headers, and decodes the JSON answer.
func graphDo(tb testing.TB, s *Server, method, token, pathQuery string, hdr http.Header) mdeAnswer {
	tb.Helper()
	req, err := http.NewRequest(method, strings.TrimPrefix(pathQuery, s.URL()), nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.URL, err = url.Parse(s.URL() + strings.TrimPrefix(pathQuery, s.URL()))
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, pathQuery, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: body: %v", method, pathQuery, err)
	}
	a := mdeAnswer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if method != http.MethodHead {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			tb.Fatalf("%s %s: answer is not JSON: %v\n%s", method, pathQuery, err, raw)
		}
	}
	return a
}

func graphGet(tb testing.TB, s *Server, token, pathQuery string) mdeAnswer {
	tb.Helper()
	return graphDo(tb, s, http.MethodGet, token, pathQuery, nil)
}

var preferUnknown = http.Header{"Prefer": {"include-unknown-enum-members"}}

func graphFilter(filter string) string {
	return alertsV2 + "?" + url.Values{"$filter": {filter}}.Encode()
}

var graphDatePattern = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$`)

// checkGraphError asserts a Graph-shaped error answer.
func checkGraphError(t *testing.T, a mdeAnswer, status int, code, msgPart string) {
	t.Helper()
	e, _ := a.body["error"].(map[string]any)
	msg, _ := e["message"].(string)
	if a.status != status || e["code"] != code || !strings.Contains(msg, msgPart) {
		t.Fatalf("got %d %v %q, want %d %s containing %q", a.status, e["code"], msg, status, code, msgPart)
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	inner, _ := e["innerError"].(map[string]any)
	date, _ := inner["date"].(string)
	if !graphDatePattern.MatchString(date) {
		t.Errorf("innerError.date %q", date)
	}
	if rid := a.header.Get("request-id"); rid == "" || inner["request-id"] != rid {
		t.Errorf("innerError.request-id %v, header %q", inner["request-id"], rid)
	}
	if cid := a.header.Get("client-request-id"); cid == "" || inner["client-request-id"] != cid {
		t.Errorf("innerError.client-request-id %v, header %q", inner["client-request-id"], cid)
	}
}

func servedIDs(a mdeAnswer) []string {
	var ids []string
	for _, v := range a.values() {
		ids = append(ids, v["id"].(string))
	}
	return ids
}

// followAll reads every page from first on, following @odata.nextLink,
// and returns the ids in order and the number of pages.
func followAll(t *testing.T, s *Server, token, first string, hdr http.Header) ([]string, int) {
	t.Helper()
	var ids []string
	next, pages := first, 0
	for next != "" {
		a := graphDo(t, s, http.MethodGet, token, next, hdr)
		if a.status != http.StatusOK {
			t.Fatalf("page %d: %v", pages, a)
		}
		if ctx, _ := a.body["@odata.context"].(string); ctx != s.URL()+"/v1.0/$metadata#security/alerts_v2" {
			t.Fatalf("page %d: @odata.context %q", pages, ctx)
		}
		pages++
		ids = append(ids, servedIDs(a)...)
		link, _ := a.body["@odata.nextLink"].(string)
		if link != "" && !strings.HasPrefix(link, s.URL()+alertsV2+"?") {
			t.Fatalf("nextLink %q is not an absolute URL of the simulator", link)
		}
		next = link
		if pages > 10_000 {
			t.Fatal("paging does not end")
		}
	}
	return ids, pages
}

func TestGraphAuth(t *testing.T) {
	t.Parallel()
	f := graphFixture(t, Options{})
	s := f.s
	s.Grant(tenantA, appGraphR, graphUS, "SecurityAlert.Read.All")
	ok := graphToken(t, f)
	expired := graphToken(t, f)
	tests := []struct {
		name   string
		header string // Authorization
		status int
		code   string
		msg    string
	}{
		{"no token", "", 401, "InvalidAuthenticationToken", "Access token is empty."},
		{"Basic scheme", "Basic dXNlcjpwYXNz", 401, "InvalidAuthenticationToken", "Bearer"},
		{"tampered token", "Bearer " + tamper(ok), 401, "InvalidAuthenticationToken", "Access token validation failure."},
		{"not a JWT", "Bearer abc", 401, "InvalidAuthenticationToken", "Access token validation failure."},
		{"MDE token", "Bearer " + tokenFor(t, s, tenantA, appGraphR, "r", mde), 401, "InvalidAuthenticationToken", "Invalid audience."},
		{"Cloud Apps token", "Bearer " + tokenFor(t, s, tenantA, appGraphR, "r", CloudAppsResource), 401, "InvalidAuthenticationToken", "Invalid audience."},
		{"no role", "Bearer " + tokenFor(t, s, tenantA, appA, secretA, graphRes), 403, "Forbidden",
			"Missing application roles. API required roles: SecurityAlert.Read.All,SecurityAlert.ReadWrite.All, application roles: ."},
		{"SecurityIncident.Read.All only", "Bearer " + tokenFor(t, s, tenantA, appGraphInc, "inc", graphRes), 403, "Forbidden",
			"application roles: SecurityIncident.Read.All."},
		{"SecurityAlert.Read.All", "Bearer " + ok, 200, "", ""},
		{"SecurityAlert.ReadWrite.All", "Bearer " + tokenFor(t, s, tenantA, appGraphRW, "rw", graphRes), 200, "", ""},
		{"bearer in lower case", "bearer " + ok, 200, "", ""},
		{"US Government audience", "Bearer " + tokenFor(t, s, tenantA, appGraphR, "r", graphUS), 200, "", ""},
		{"DoD audience (same service principal)", "Bearer " + tokenFor(t, s, tenantA, appGraphR, "r", graphDoD), 200, "", ""},
	}
	f.clock.Advance(-2 * time.Hour) // the expired token is issued in the past
	expired = graphToken(t, f)
	f.clock.Advance(2 * time.Hour)
	tests = append(tests, struct {
		name, header string
		status       int
		code, msg    string
	}{"expired token", "Bearer " + expired, 401, "InvalidAuthenticationToken", "expired"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := http.Header{"Client-Request-Id": {"5e4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a"}}
			if tt.header != "" {
				hdr.Set("Authorization", tt.header)
			}
			a := graphDo(t, s, http.MethodGet, "", alertsV2, hdr)
			if a.header.Get("client-request-id") != "5e4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a" || a.header.Get("request-id") == "" {
				t.Errorf("request-id %q client-request-id %q", a.header.Get("request-id"), a.header.Get("client-request-id"))
			}
			if tt.status == 200 {
				if a.status != 200 {
					t.Fatalf("got %v", a)
				}
				return
			}
			checkGraphError(t, a, tt.status, tt.code, tt.msg)
			if tt.status == 401 && !strings.Contains(a.header.Get("WWW-Authenticate"), `client_id="00000003-0000-0000-c000-000000000000"`) {
				t.Errorf("WWW-Authenticate %q", a.header.Get("WWW-Authenticate"))
			}
		})
	}

	t.Run("client-request-id defaults to the request-id", func(t *testing.T) {
		a := graphGet(t, s, "", alertsV2)
		if rid := a.header.Get("request-id"); rid == "" || a.header.Get("client-request-id") != rid {
			t.Errorf("request-id %q client-request-id %q", rid, a.header.Get("client-request-id"))
		}
	})
}

func TestGraphRouting(t *testing.T) {
	t.Parallel()
	f := graphFixture(t, Options{})
	tok := graphToken(t, f)
	tests := []struct {
		name, method, path string
		status             int
		code, msg          string
	}{
		{"GET", http.MethodGet, alertsV2, 200, "", ""},
		{"the doc's alerts_V2 spelling", http.MethodGet, "/v1.0/security/alerts_V2", 200, "", ""},
		{"HEAD", http.MethodHead, alertsV2, 200, "", ""},
		{"POST", http.MethodPost, alertsV2, 405, "BadRequest", "'POST' is not allowed"},
		{"DELETE", http.MethodDelete, alertsV2, 405, "BadRequest", "'DELETE' is not allowed"},
		{"unknown segment", http.MethodGet, "/v1.0/security/alertsv2", 400, "BadRequest", "Resource not found for the segment 'alertsv2'."},
		{"legacy alerts", http.MethodGet, "/v1.0/security/alerts", 400, "BadRequest", "Resource not found for the segment 'alerts'."},
		{"get by id", http.MethodGet, alertsV2 + "/da637551227677560813_-961444813", 501, "notSupported", "only List alerts_v2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := graphDo(t, f.s, tt.method, tok, tt.path, nil)
			if tt.status == 200 {
				if a.status != 200 {
					t.Fatalf("got %v", a)
				}
				return
			}
			checkGraphError(t, a, tt.status, tt.code, tt.msg)
			if tt.status == 405 && a.header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow %q", a.header.Get("Allow"))
			}
		})
	}
}

func mustTime(t *testing.T, s string) *time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return &tm
}

// graphFilterSet stores five Graph-only alerts with exact values.
func graphFilterSet(t *testing.T) (*fixture, string) {
	t.Helper()
	f := graphFixture(t, Options{})
	g := f.s.Graph(tenantA)
	put := func(id, updated, created, source, severity, status, class, det string, assigned *string) {
		g.Put(GraphAlert{ID: id, ProviderAlertID: id, TenantID: tenantA, Title: "t " + id, ServiceSource: source,
			DetectionSource: "unknown", Severity: severity, Status: status, Classification: class, Determination: det,
			AssignedTo: assigned, LastUpdateDateTime: mustTime(t, updated), CreatedDateTime: mustTime(t, created)}, time.Time{})
	}
	put("g1", "2024-05-01T10:00:00Z", "2024-05-01T09:00:00Z", "microsoftDefenderForIdentity", "high", "new", "unknown", "unknown", nil)
	put("g2", "2024-05-01T10:00:00.0000001Z", "2024-04-30T00:00:00Z", "microsoftDefenderForOffice365", "medium", "inProgress", "truePositive", "phishing", simapi.Ptr("secop123@contoso.com"))
	put("g3", "2024-05-01T09:59:59.9999999Z", "2024-04-01T00:00:00Z", "microsoftDefenderForCloud", "low", "resolved", "falsePositive", "notMalicious", simapi.Ptr("O'Brien@contoso.com"))
	put("g4", "2024-05-02T00:00:00Z", "2024-05-01T23:00:00Z", "microsoftSentinel", "informational", "resolved", "informationalExpectedActivity", "securityTesting", simapi.Ptr("Automation"))
	put("g5", "2024-04-01T00:00:00Z", "2024-04-01T00:00:00Z", "azureAdIdentityProtection", "unknown", "unknown", "unknown", "unknown", nil)
	return f, graphToken(t, f)
}

func TestGraphFilterAccepted(t *testing.T) {
	t.Parallel()
	f, tok := graphFilterSet(t)
	tests := []struct {
		name     string
		filter   string // encoded with url.Values unless raw is set
		raw      string // the query string exactly as sent
		prefer   bool
		want     []string
		anyOrder bool
	}{
		{name: "ge", filter: "lastUpdateDateTime ge 2024-05-01T10:00:00Z", want: []string{"g4", "g2", "g1"}},
		{name: "'+' as space", raw: "$filter=lastUpdateDateTime+ge+2024-05-01T10:00:00Z", want: []string{"g4", "g2", "g1"}},
		{name: "%20 as space", raw: "$filter=lastUpdateDateTime%20ge%202024-05-01T10:00:00Z", want: []string{"g4", "g2", "g1"}},
		{name: "gt excludes the equal time", filter: "lastUpdateDateTime gt 2024-05-01T10:00:00Z", want: []string{"g4", "g2"}},
		{name: "7 fractional digits", filter: "lastUpdateDateTime ge 2024-05-01T10:00:00.0000001Z", want: []string{"g4", "g2"}},
		{name: "3 fractional digits", filter: "lastUpdateDateTime gt 2024-05-01T10:00:00.000Z", want: []string{"g4", "g2"}},
		{name: "lt", filter: "lastUpdateDateTime lt 2024-05-01T10:00:00Z", want: []string{"g3", "g5"}},
		{name: "le without seconds", filter: "lastUpdateDateTime le 2024-05-01T10:00Z", want: []string{"g1", "g3", "g5"}},
		{name: "eq at 100 ns", filter: "lastUpdateDateTime eq 2024-05-01T09:59:59.9999999Z", want: []string{"g3"}},
		{name: "ne", filter: "lastUpdateDateTime ne 2024-05-01T09:59:59.9999999Z", want: []string{"g4", "g2", "g1", "g5"}},
		{name: "+hh:mm offset", filter: "lastUpdateDateTime ge 2024-05-01T12:00:00+02:00", want: []string{"g4", "g2", "g1"}},
		{name: "-hh:mm offset", filter: "lastUpdateDateTime ge 2024-05-01T05:00:00-05:00", want: []string{"g4", "g2", "g1"}},
		{name: "window", filter: "lastUpdateDateTime ge 2024-05-01T00:00:00Z and lastUpdateDateTime lt 2024-05-02T00:00:00Z", want: []string{"g2", "g1", "g3"}},
		{name: "createdDateTime", filter: "createdDateTime ge 2024-05-01T00:00:00Z", want: []string{"g4", "g1"}},
		{name: "createdDateTime lt", filter: "createdDateTime lt 2024-04-30T00:00:00Z", want: []string{"g3", "g5"}},
		{name: "serviceSource", filter: "serviceSource eq 'microsoftDefenderForIdentity'", want: []string{"g1"}},
		{name: "serviceSource ne", filter: "serviceSource ne 'microsoftDefenderForIdentity'", want: []string{"g4", "g2", "g3", "g5"}},
		{name: "unknownFutureValue stands for the hidden members", filter: "serviceSource eq 'unknownFutureValue'", want: []string{"g4", "g3"}},
		{name: "unknownFutureValue with the Prefer header is itself", filter: "serviceSource eq 'unknownFutureValue'", prefer: true, want: nil},
		{name: "a hidden member with the Prefer header", filter: "serviceSource eq 'microsoftDefenderForCloud'", prefer: true, want: []string{"g3"}},
		{name: "gt unknownFutureValue", filter: "serviceSource gt 'unknownFutureValue'", want: []string{"g4", "g3"}},
		{name: "lt unknownFutureValue", filter: "serviceSource lt 'unknownFutureValue'", want: []string{"g2", "g1", "g5"}},
		{name: "severity", filter: "severity eq 'high'", want: []string{"g1"}},
		{name: "severity ordered", filter: "severity ge 'medium'", want: []string{"g2", "g1"}},
		{name: "severity lt", filter: "severity lt 'low'", want: []string{"g4", "g5"}},
		{name: "status", filter: "status eq 'new'", want: []string{"g1"}},
		{name: "status ne", filter: "status ne 'resolved'", want: []string{"g2", "g1", "g5"}},
		{name: "status le", filter: "status le 'inProgress'", want: []string{"g2", "g1", "g5"}},
		{name: "classification", filter: "classification eq 'truePositive'", want: []string{"g2"}},
		{name: "classification unknown", filter: "classification eq 'unknown'", want: []string{"g1", "g5"}},
		{name: "determination", filter: "determination eq 'notMalicious'", want: []string{"g3"}},
		{name: "determination phishing", filter: "determination eq 'phishing'", want: []string{"g2"}},
		{name: "assignedTo, quote doubled", filter: "assignedTo eq 'O''Brien@contoso.com'", want: []string{"g3"}},
		{name: "assignedTo eq null", filter: "assignedTo eq null", want: []string{"g1", "g5"}},
		{name: "assignedTo ne null", filter: "assignedTo ne null", want: []string{"g4", "g2", "g3"}},
		{name: "strings are case-sensitive", filter: "assignedTo eq 'automation'", want: nil},
		{name: "and", filter: "status eq 'resolved' and severity eq 'low'", want: []string{"g3"}},
		{name: "or", filter: "status eq 'new' or status eq 'unknown'", want: []string{"g1", "g5"}},
		{name: "not", filter: "not (status eq 'resolved')", want: []string{"g2", "g1", "g5"}},
		{name: "parentheses", filter: "(status eq 'new' or status eq 'inProgress') and assignedTo ne null", want: []string{"g2"}},
		{name: "literal on the left", filter: "2024-05-01T10:00:00Z le lastUpdateDateTime", want: []string{"g4", "g2", "g1"}},
		{name: "true", filter: "true", want: []string{"g4", "g2", "g1", "g3", "g5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := graphFilter(tt.filter)
			if tt.raw != "" {
				q = alertsV2 + "?" + tt.raw
			}
			var hdr http.Header
			if tt.prefer {
				hdr = preferUnknown
			}
			a := graphDo(t, f.s, http.MethodGet, tok, q, hdr)
			if got := servedIDs(a); a.status != 200 || !slices.Equal(got, tt.want) {
				t.Fatalf("got %d %v, want %v: %v", a.status, got, tt.want, a)
			}
		})
	}
}

func TestGraphFilterRejected(t *testing.T) {
	t.Parallel()
	f, tok := graphFilterSet(t)
	tests := []struct {
		name, filter, msg string
	}{
		{"documented non-filterable property", "investigationState eq 'running'", "The property 'investigationState' of type 'microsoft.graph.security.alert' cannot be used in $filter"},
		{"title", "title eq 'x'", "cannot be used in $filter"},
		{"id", "id eq 'g1'", "cannot be used in $filter"},
		{"unknown property", "foo eq 1", "Could not find a property named 'foo' on type 'microsoft.graph.security.alert'."},
		{"property names are case-sensitive", "LastUpdateDateTime ge 2024-05-01T00:00:00Z", "Could not find a property named 'LastUpdateDateTime'"},
		{"enum literals are case-sensitive", "status eq 'New'", "The string 'New' is not a valid enumeration type constant."},
		{"MDE enum spelling", "severity eq 'UnSpecified'", "is not a valid enumeration type constant"},
		{"a hidden member without the Prefer header", "serviceSource eq 'microsoftDefenderForCloud'", "comes after 'unknownFutureValue'"},
		{"quoted datetime", "lastUpdateDateTime ge '2024-05-01T10:00:00Z'", "Found operand types 'Edm.DateTimeOffset' and 'Edm.String'"},
		{"date only", "lastUpdateDateTime ge 2024-05-01", "Unrecognized 'Edm.DateTimeOffset' literal '2024-05-01'"},
		{"no offset", "lastUpdateDateTime ge 2024-05-01T10:00:00", "Unrecognized 'Edm.DateTimeOffset' literal"},
		{"8 fractional digits", "lastUpdateDateTime ge 2024-05-01T10:00:00.00000001Z", "Unrecognized 'Edm.DateTimeOffset' literal"},
		{"unquoted enum", "status eq new", "Could not find a property named 'new'"},
		{"number for an enum", "severity eq 3", "Found operand types 'microsoft.graph.security.alertSeverity' and 'Edm.Int32'"},
		{"AND in upper case", "status eq 'new' AND severity eq 'high'", "Syntax error at position 16"},
		{"not binds tighter than eq", "not status eq 'new'", "A unary operator with an incompatible type was detected."},
		{"function", "startswith(title,'x')", "An unknown function with name 'startswith'"},
		{"lambda on evidence", "evidence/any(e: e/microsoft.graph.security.userEvidence/userAccount/userPrincipalName eq 'a@b.c')", "Lambda operators (any, all) are not supported"},
		{"unterminated string", "status eq 'new", "There is an unterminated string literal"},
		{"missing operand", "status eq", "Expression expected at position 9"},
		{"not boolean", "status", "must evaluate to a single boolean value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := graphGet(t, f.s, tok, graphFilter(tt.filter))
			checkGraphError(t, a, 400, "BadRequest", tt.msg)
			if m := a.errorField("message"); !strings.HasPrefix(m, "Invalid filter clause: ") {
				t.Errorf("message %q", m)
			}
		})
	}
}

func TestGraphQueryOptions(t *testing.T) {
	t.Parallel()
	f := graphFixture(t, Options{})
	now := f.clock.Now()
	f.s.Graph(tenantA).Generate(1200, GraphGenerate{From: now.Add(-24 * time.Hour), To: now})
	tok := graphToken(t, f)
	all, _ := followAll(t, f.s, tok, alertsV2+"?$top=1000", nil)
	if len(all) != 1200 {
		t.Fatalf("%d alerts, want 1200", len(all))
	}

	tests := []struct {
		name      string
		query     string
		want      int // alerts in the answer; -1 for a 400
		firstAt   int // position in the whole list of the first alert
		nextLink  bool
		count     int // @odata.count, -1 when absent
		errorPart string
	}{
		{name: "no options: the default page size", query: "", want: 100, nextLink: true, count: -1},
		{name: "$top", query: "$top=7", want: 7, nextLink: true, count: -1},
		{name: "$top at the cap", query: "$top=1000", want: 1000, nextLink: true, count: -1},
		{name: "$top above the cap is served 1000", query: "$top=1001", want: 1000, nextLink: true, count: -1},
		{name: "$top far above the cap", query: "$top=5000", want: 1000, nextLink: true, count: -1},
		{name: "$top with a sign, as .NET parses it", query: "$top=%2B5", want: 5, nextLink: true, count: -1},
		{name: "$skip", query: "$top=10&$skip=200", want: 10, firstAt: 200, nextLink: true, count: -1},
		{name: "$skip at its limit", query: "$top=10&$skip=500", want: 10, firstAt: 500, nextLink: true, count: -1},
		{name: "$skip past the end", query: "$skip=500&$top=1000", want: 700, firstAt: 500, count: -1},
		{name: "$count", query: "$count=true&$top=3", want: 3, nextLink: true, count: 1200},
		{name: "$count false", query: "$count=false&$top=3", want: 3, nextLink: true, count: -1},
		{name: "$count with a filter", query: "$count=true&$filter=" + url.QueryEscape("severity eq 'high'"), want: -2, count: -2},
		{name: "parameters without $ are ignored", query: "top=5&foo=bar", want: 100, nextLink: true, count: -1},
		{name: "$skip beyond 500", query: "$top=10&$skip=501", want: -1, errorPart: "The $skip query option has a limit of 500"},
		{name: "$top 0", query: "$top=0", want: -1, errorPart: "requires a positive integer"},
		{name: "$top negative", query: "$top=-1", want: -1, errorPart: "requires a positive integer"},
		{name: "$top not a number", query: "$top=ten", want: -1, errorPart: "Invalid value 'ten' for $top"},
		{name: "$skip negative", query: "$skip=-1", want: -1, errorPart: "Invalid value '-1' for $skip"},
		{name: "$count in upper case", query: "$count=TRUE", want: -1, errorPart: "Invalid value 'TRUE' for $count"},
		{name: "$orderby", query: "$orderby=lastUpdateDateTime+asc", want: -1, errorPart: "Query option '$orderby' is not supported by List alerts_v2"},
		{name: "$select", query: "$select=id", want: -1, errorPart: "Query option '$select' is not supported"},
		{name: "$expand", query: "$expand=evidence", want: -1, errorPart: "Query option '$expand' is not supported"},
		{name: "$search", query: "$search=x", want: -1, errorPart: "Query option '$search' is not supported"},
		{name: "option names are case-sensitive", query: "$Top=5", want: -1, errorPart: "The query parameter '$Top' is not supported."},
		{name: "duplicate option", query: "$top=5&$top=6", want: -1, errorPart: "specified more than once"},
		{name: "empty $filter", query: "$filter=", want: -1, errorPart: "cannot be empty"},
		{name: "forged $skiptoken", query: "$skiptoken=AQT_tEYqngJYNAZ8BYQ8p4vm", want: -1, errorPart: "The $skiptoken is invalid"},
		{name: "malformed query string", query: "$top=%zz", want: -1, errorPart: "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := graphGet(t, f.s, tok, alertsV2+"?"+tt.query)
			if tt.want == -1 {
				checkGraphError(t, a, 400, "BadRequest", tt.errorPart)
				return
			}
			if a.status != 200 {
				t.Fatalf("got %v", a)
			}
			ids := servedIDs(a)
			if tt.want >= 0 && len(ids) != tt.want {
				t.Fatalf("%d alerts, want %d", len(ids), tt.want)
			}
			if tt.want >= 0 && len(ids) > 0 && ids[0] != all[tt.firstAt] {
				t.Errorf("first alert %s, want %s (position %d)", ids[0], all[tt.firstAt], tt.firstAt)
			}
			link, _ := a.body["@odata.nextLink"].(string)
			if tt.want >= 0 && (link != "") != tt.nextLink {
				t.Errorf("nextLink %q, want one: %v", link, tt.nextLink)
			}
			count, hasCount := a.body["@odata.count"].(float64)
			switch {
			case tt.count == -1 && hasCount:
				t.Errorf("@odata.count %v without $count=true", count)
			case tt.count >= 0 && int(count) != tt.count:
				t.Errorf("@odata.count %v, want %d", a.body["@odata.count"], tt.count)
			case tt.count == -2 && (!hasCount || int(count) < len(ids) || len(ids) == 0):
				t.Errorf("@odata.count %v with %d alerts", a.body["@odata.count"], len(ids))
			}
		})
	}

	t.Run("nextLink preserves the query and drops $skip", func(t *testing.T) {
		t.Parallel()
		filter := url.QueryEscape("lastUpdateDateTime ge " + now.Add(-48*time.Hour).Format(time.RFC3339))
		a := graphGet(t, f.s, tok, alertsV2+"?$filter="+filter+"&$count=true&$skip=3&$top=10")
		link, _ := a.body["@odata.nextLink"].(string)
		u, err := url.Parse(link)
		if err != nil || u.Scheme+"://"+u.Host != f.s.URL() || u.Path != alertsV2 {
			t.Fatalf("nextLink %q", link)
		}
		q := u.Query()
		if q.Get("$filter") == "" || q.Get("$count") != "true" || q.Get("$top") != "10" || q.Get("$skiptoken") == "" || q.Has("$skip") {
			t.Fatalf("nextLink query %v", q)
		}
		b := graphGet(t, f.s, tok, link)
		if ids := servedIDs(b); len(ids) != 10 || ids[0] != all[13] || b.body["@odata.count"] != a.body["@odata.count"] {
			t.Errorf("second page %v", ids)
		}
	})

	t.Run("a skiptoken is bound to its query", func(t *testing.T) {
		t.Parallel()
		a := graphGet(t, f.s, tok, alertsV2+"?$top=10")
		link, _ := a.body["@odata.nextLink"].(string)
		u, _ := url.Parse(link)
		token := u.Query().Get("$skiptoken")
		for _, q := range []string{"$top=11&$skiptoken=" + token, "$top=10&$count=true&$skiptoken=" + token,
			"$top=10&$skip=1&$skiptoken=" + token, "$top=10&$skiptoken=" + token[:len(token)-2] + "AA"} {
			b := graphGet(t, f.s, tok, alertsV2+"?"+q)
			if b.status != 400 {
				t.Errorf("%s: %v", q, b)
			}
		}
	})
}

// TestGraphPagingEveryAlertOnce pages over 5,000 alerts of the three kinds
// (Endpoint, Cloud Apps, Graph-only) that do not change meanwhile: every
// alert Graph shows arrives exactly once, whatever the page size.
func TestGraphPagingEveryAlertOnce(t *testing.T) {
	t.Parallel()
	f := graphFixture(t, Options{})
	now := f.clock.Now()
	from := now.Add(-7 * 24 * time.Hour)
	f.s.Endpoint(tenantA).Generate(2000, EndpointGenerate{From: from, To: now})
	f.s.CloudApps(tenantA).Generate(1000, CloudAppsGenerate{From: from, To: now})
	f.s.Graph(tenantA).Generate(2000, GraphGenerate{From: from, To: now})
	want := map[string]bool{}
	for _, v := range f.s.Graph(tenantA).Versions() {
		want[v.ID] = true
	}
	// Some Endpoint alerts have no incident: Graph does not show them.
	if len(want) < 4600 || len(want) >= 5000 {
		t.Fatalf("Graph shows %d alerts", len(want))
	}
	tok := graphToken(t, f)
	filter := url.QueryEscape("lastUpdateDateTime ge " + from.Format(time.RFC3339Nano))
	for _, first := range []string{alertsV2 + "?$top=1000&$count=true&$filter=" + filter, alertsV2, alertsV2 + "?$top=333&$skip=0"} {
		t.Run(first, func(t *testing.T) {
			ids, pages := followAll(t, f.s, tok, first, nil)
			seen := map[string]int{}
			for _, id := range ids {
				seen[id]++
				if seen[id] > 1 {
					t.Fatalf("%s arrived twice", id)
				}
				if !want[id] {
					t.Fatalf("%s is not an alert Graph shows", id)
				}
			}
			if len(seen) != len(want) {
				t.Errorf("%d alerts in %d pages, want %d", len(seen), pages, len(want))
			}
		})
	}
}

// TestGraphPagingLiveSet shows what a client must expect from a skiptoken
// while alerts change: it is a position in the list, so an update that
// moves an alert to the top repeats one alert and hides the moved one's new
// version until the next pass, and an update that takes an alert out of the
// filter skips another alert entirely.
func TestGraphPagingLiveSet(t *testing.T) {
	t.Parallel()
	f := graphFixture(t, Options{})
	g := f.s.Graph(tenantA)
	base := f.clock.Now().Add(-time.Hour)
	for i := 1; i <= 6; i++ {
		at := base.Add(time.Duration(i) * time.Minute)
		g.Put(GraphAlert{ID: "a" + strconv.Itoa(i), Status: "new", Severity: "low", Classification: "unknown", Determination: "unknown",
			ServiceSource: "microsoftDefenderForIdentity", DetectionSource: "microsoftDefenderForIdentity", LastUpdateDateTime: &at}, time.Time{})
	}
	tok := graphToken(t, f)
	page := func(link string) ([]string, string) {
		a := graphGet(t, f.s, tok, link)
		next, _ := a.body["@odata.nextLink"].(string)
		return servedIDs(a), next
	}

	t.Run("an update moves an alert to the top", func(t *testing.T) {
		ids, next := page(alertsV2 + "?$top=2")
		if !slices.Equal(ids, []string{"a6", "a5"}) {
			t.Fatalf("first page %v", ids)
		}
		if err := g.Update("a2", nil, 0); err != nil {
			t.Fatal(err)
		}
		var rest []string
		for next != "" {
			var p []string
			p, next = page(next)
			rest = append(rest, p...)
		}
		if !slices.Equal(rest, []string{"a5", "a4", "a3", "a1"}) {
			t.Errorf("rest of the pass %v: want a5 again and a2 missing", rest)
		}
	})

	t.Run("an alert leaving the filter skips another", func(t *testing.T) {
		upTo := f.clock.Now().Add(-time.Second).Format(time.RFC3339Nano)
		ids, next := page(alertsV2 + "?$top=2&$filter=" + url.QueryEscape("lastUpdateDateTime lt "+upTo))
		if !slices.Equal(ids, []string{"a6", "a5"}) {
			t.Fatalf("first page %v", ids)
		}
		f.clock.Advance(time.Second)
		if err := g.Update("a6", nil, 0); err != nil {
			t.Fatal(err)
		}
		var rest []string
		for next != "" {
			var p []string
			p, next = page(next)
			rest = append(rest, p...)
		}
		if !slices.Equal(rest, []string{"a3", "a1"}) {
			t.Errorf("rest of the pass %v: want a4 skipped", rest)
		}
	})
}

func TestGraphEmptyPages(t *testing.T) {
	t.Parallel()
	f := graphFixture(t, Options{})
	f.s.Graph(tenantA).Generate(25, GraphGenerate{From: f.clock.Now().Add(-time.Hour), To: f.clock.Now()})
	f.s.Graph(tenantA).EmptyPages(2)
	tok := graphToken(t, f)
	a := graphGet(t, f.s, tok, alertsV2+"?$top=10")
	if len(a.values()) != 0 || a.body["@odata.nextLink"] == nil {
		t.Fatalf("first answer %v: want no alerts and a nextLink", a)
	}
	ids, _ := followAll(t, f.s, tok, a.body["@odata.nextLink"].(string), nil)
	if len(ids) != 25 {
		t.Errorf("%d alerts after the empty pages, want 25", len(ids))
	}
}

func TestGraphRateLimit(t *testing.T) {
	t.Parallel()
	if got := DocumentedRateLimits(APIGraph); !slices.Equal(got, []RateLimit{{Requests: 150, Per: time.Minute}}) {
		t.Errorf("documented limits %v", got)
	}
	f := graphFixture(t, Options{RateLimits: map[string]RateLimits{APIGraph: LimitTo(RateLimit{Requests: 3, Per: time.Minute})}})
	tok := graphToken(t, f)
	for i := range 3 {
		if a := graphGet(t, f.s, tok, alertsV2); a.status != 200 {
			t.Fatalf("request %d: %v", i, a)
		}
	}
	// A refused token does not count (nor is the tenant known).
	graphGet(t, f.s, "", alertsV2)
	a := graphGet(t, f.s, tok, alertsV2)
	checkGraphError(t, a, 429, "TooManyRequests", "Please retry again later.")
	secs, err := strconv.Atoi(a.header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 60 {
		t.Errorf("Retry-After %q", a.header.Get("Retry-After"))
	}
	inner := a.body["error"].(map[string]any)["innerError"].(map[string]any)
	if inner["code"] != "429" || inner["status"] != "429" || inner["message"] != "Please retry after" {
		t.Errorf("innerError %v", inner)
	}
	// The limit is per app: another app of the tenant is not throttled.
	if b := graphGet(t, f.s, tokenFor(t, f.s, tenantA, appGraphRW, "rw", graphRes), alertsV2); b.status != 200 {
		t.Errorf("other app: %v", b)
	}
	f.s.SetRateLimits(APIGraph, NoRateLimits())
	if b := graphGet(t, f.s, tok, alertsV2); b.status != 200 {
		t.Errorf("without limits: %v", b)
	}
}

func loadGraphExample(t *testing.T) ([]byte, GraphAlert) {
	t.Helper()
	doc, err := os.ReadFile("testdata/graph-list-alerts_v2-example.json")
	if err != nil {
		t.Fatal(err)
	}
	var page struct{ Value []json.RawMessage }
	if err := json.Unmarshal(doc, &page); err != nil || len(page.Value) != 1 {
		t.Fatalf("example: %v", err)
	}
	var a GraphAlert
	if err := json.Unmarshal(page.Value[0], &a); err != nil {
		t.Fatal(err)
	}
	return page.Value[0], a
}

// containsJSON reports where want is not a part of got: every member of
// every object of want is in got with an equal value (got may have more).
func containsJSON(got, want any, path string) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{path + ": not an object"}
		}
		var diffs []string
		for k, v := range w {
			gv, ok := g[k]
			if !ok {
				diffs = append(diffs, path+"."+k+": missing")
				continue
			}
			diffs = append(diffs, containsJSON(gv, v, path+"."+k)...)
		}
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: %v, want %v", path, got, want)}
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, containsJSON(g[i], w[i], fmt.Sprintf("%s[%d]", path, i))...)
		}
		return diffs
	}
	if !reflect.DeepEqual(got, want) {
		return []string{fmt.Sprintf("%s: %v, want %v", path, got, want)}
	}
	return nil
}

// TestGraphAlertExample: the documented example (security-list-alerts_v2.md,
// testdata) decodes, and is served with every documented property and
// value as the document shows it.
func TestGraphAlertExample(t *testing.T) {
	t.Parallel()
	doc, a := loadGraphExample(t)
	if a.ID != "da637551227677560813_-961444813" || len(a.Evidence) != 4 || a.Evidence[2].Type != "#microsoft.graph.security.processEvidence" ||
		a.LastUpdateDateTime == nil || a.LastUpdateDateTime.Nanosecond() != 326666700 || !slices.Equal(a.SystemTags, []string{"Defender Experts"}) {
		t.Fatalf("decoded %+v", a)
	}
	var want any
	_ = json.Unmarshal(doc, &want)

	out, err := a.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var got any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if diffs := containsJSON(got, want, ""); len(diffs) > 0 {
		t.Errorf("MarshalJSON differs from the example: %v", diffs)
	}
	if k := jsonKeys(t, out); !slices.Equal(k[:31], jsonKeys(t, doc)) {
		t.Errorf("key order %v", k)
	}
	var again GraphAlert
	if err := json.Unmarshal(out, &again); err != nil || !reflect.DeepEqual(again, a) {
		t.Errorf("round trip differs: %v\n%+v\n%+v", err, again, a)
	}

	f := graphFixture(t, Options{})
	f.s.Graph(tenantA).Put(a, time.Time{})
	ans := graphGet(t, f.s, graphToken(t, f), alertsV2)
	if vals := ans.values(); len(vals) != 1 {
		t.Fatalf("served %v", ans)
	} else if diffs := containsJSON(any(vals[0]), want, ""); len(diffs) > 0 {
		t.Errorf("served alert differs from the example: %v", diffs)
	}
	// Non-ASCII is escaped on the wire, as OData's writer does.
	if !strings.Contains(string(ans.raw), `\ufffd\tReview`) {
		t.Error("U+FFFD not escaped")
	}
}

// TestGraphEndpointView: an alert of the Endpoint part is the same alert in
// Graph, and each of its versions a Graph version.
func TestGraphEndpointView(t *testing.T) {
	t.Parallel()
	f := graphFixture(t, Options{})
	doc, err := os.ReadFile("testdata/endpoint-alert-example.json")
	if err != nil {
		t.Fatal(err)
	}
	var m EndpointAlert
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	e, g := f.s.Endpoint(tenantA), f.s.Graph(tenantA)
	now := f.clock.Now()
	e.Put(m, now)
	tok := graphToken(t, f)

	one := func(t *testing.T, id string) map[string]any {
		t.Helper()
		a := graphGet(t, f.s, tok, alertsV2)
		for _, v := range a.values() {
			if v["id"] == id {
				return v
			}
		}
		t.Fatalf("%s not served: %v", id, a)
		return nil
	}
	v := one(t, m.ID)
	wantFields := map[string]any{
		"providerAlertId": m.ID, "incidentId": "1126093", "serviceSource": "microsoftDefenderForEndpoint",
		"title": m.Title, "description": m.Description, "severity": "low", "status": "new",
		"detectionSource": "microsoftDefenderForEndpoint", "category": m.Category, "tenantId": m.AADTenantID,
		"createdDateTime": "2021-01-26T20:33:57.7220239Z", "lastUpdateDateTime": "2021-01-26T20:33:59.2Z",
		"productName": "Microsoft Defender for Endpoint", "classification": "unknown", "determination": "unknown",
	}
	for k, w := range wantFields {
		if !reflect.DeepEqual(v[k], w) {
			t.Errorf("%s = %v, want %v", k, v[k], w)
		}
	}
	ev := v["evidence"].([]any)
	if len(ev) != 1+len(m.Evidence) {
		t.Errorf("%d evidence items, want the device and %d", len(ev), len(m.Evidence))
	}
	dev := ev[0].(map[string]any)
	if dev["@odata.type"] != "#microsoft.graph.security.deviceEvidence" || dev["mdeDeviceId"] != m.MachineID || dev["deviceDnsName"] != m.ComputerDNSName {
		t.Errorf("device evidence %v", dev)
	}

	// An update in the Endpoint part is a new Graph version.
	f.clock.Advance(time.Minute)
	if err := e.Update(m.ID, func(a *EndpointAlert) {
		a.Status = "Resolved"
		a.Classification = simapi.Ptr("TruePositive")
		a.Determination = simapi.Ptr("CompromisedUser")
	}, 0); err != nil {
		t.Fatal(err)
	}
	latest, _ := e.Latest(m.ID)
	v = one(t, m.ID)
	if v["lastUpdateDateTime"] != latest.LastUpdateTime.Format(endpoint.TimeLayout) || v["status"] != "resolved" ||
		v["classification"] != "truePositive" || v["determination"] != "compromisedAccount" {
		t.Errorf("after the update: %v %v %v %v", v["lastUpdateDateTime"], v["status"], v["classification"], v["determination"])
	}
	ga, ok := g.Latest(m.ID)
	if !ok || !ga.LastUpdateDateTime.Equal(*latest.LastUpdateTime) || ga.ProviderAlertID != m.ID {
		t.Errorf("Latest %v %+v", ok, ga)
	}
	var vs []GraphVersion
	for _, x := range g.Versions() {
		if x.ID == m.ID {
			vs = append(vs, x)
		}
	}
	if len(vs) != 2 || !vs[0].LastUpdateDateTime.Equal(*m.LastUpdateTime) || !vs[1].LastUpdateDateTime.Equal(*latest.LastUpdateTime) ||
		vs[0].ServiceSource != "microsoftDefenderForEndpoint" || vs[0].ProviderAlertID != m.ID || !vs[0].VisibleAt.Equal(now) {
		t.Errorf("Versions %+v", vs)
	}

	t.Run("late in the Endpoint part, late in Graph, later with the indexing delay", func(t *testing.T) {
		late := m
		late.ID, late.IncidentID = "da637472900382838869_42", simapi.Ptr(int64(7))
		at := f.clock.Now().Add(10 * time.Minute)
		e.Put(late, at)
		g.SetIndexingDelay(5 * time.Minute)
		defer g.SetIndexingDelay(0)
		shown := func() bool {
			a := graphGet(t, f.s, tok, graphFilter("lastUpdateDateTime ge 2021-01-01T00:00:00Z"))
			return slices.Contains(servedIDs(a), late.ID)
		}
		for _, step := range []struct {
			advance time.Duration
			want    bool
		}{{0, false}, {10 * time.Minute, false}, {5 * time.Minute, true}} {
			f.clock.Advance(step.advance)
			if got := shown(); got != step.want {
				t.Errorf("after %v: shown %v", step.advance, got)
			}
		}
		for _, x := range g.Versions() {
			if x.ID == late.ID && !x.VisibleAt.Equal(at.Add(5*time.Minute)) {
				t.Errorf("VisibleAt %v, want %v", x.VisibleAt, at.Add(5*time.Minute))
			}
		}
	})

	t.Run("an alert outside any incident is not shown", func(t *testing.T) {
		alone := m
		alone.ID, alone.IncidentID = "da637472900382838869_43", nil
		e.Put(alone, time.Time{})
		if _, ok := g.Latest(alone.ID); ok {
			t.Error("Latest found it")
		}
		if slices.Contains(servedIDs(graphGet(t, f.s, tok, alertsV2)), alone.ID) {
			t.Error("served")
		}
		if slices.ContainsFunc(g.Versions(), func(v GraphVersion) bool { return v.ID == alone.ID }) {
			t.Error("in Versions")
		}
	})

	t.Run("Graph-only updates refuse the view's alerts", func(t *testing.T) {
		if err := g.Update(m.ID, nil, 0); err == nil {
			t.Error("no error")
		}
	})

	t.Run("another tenant's alerts are not shown", func(t *testing.T) {
		f.s.AddTenant(tenantB)
		f.s.Grant(tenantB, appGraphR, graphRes, "SecurityAlert.Read.All")
		f.s.Endpoint(tenantB).Generate(3, EndpointGenerate{})
		a := graphGet(t, f.s, tokenFor(t, f.s, tenantB, appGraphR, "r", graphRes), alertsV2)
		for _, v := range a.values() {
			if v["tenantId"] != tenantB {
				t.Errorf("tenant B sees %v", v["id"])
			}
		}
	})
}

var casGraphIDPattern = regexp.MustCompile(`^ca[0-9A-F]{8}-[0-9A-F]{4}-3[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`)

// TestGraphCloudAppsView: an alert of the Cloud Apps part is the same alert
// in Graph; its versions are its creation and its closing.
func TestGraphCloudAppsView(t *testing.T) {
	t.Parallel()
	f := graphFixture(t, Options{})
	c, g := f.s.CloudApps(tenantA), f.s.Graph(tenantA)
	now := f.clock.Now()
	ids := c.Generate(30, CloudAppsGenerate{From: now.Add(-time.Hour), To: now.Add(-time.Hour)})
	tok := graphToken(t, f)
	byProvider := func() map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, v := range graphGet(t, f.s, tok, alertsV2).values() {
			out[v["providerAlertId"].(string)] = v
		}
		return out
	}
	served := byProvider()
	if len(served) != len(ids) {
		t.Fatalf("%d served, want %d", len(served), len(ids))
	}
	id := ids[0]
	alert, _ := c.Latest(id)
	v := served[id]
	if !casGraphIDPattern.MatchString(v["id"].(string)) || v["serviceSource"] != "microsoftDefenderForCloudApps" ||
		v["detectionSource"] != "cloudAppSecurity" || v["title"] != alert.Title || v["tenantId"] != tenantA ||
		v["lastUpdateDateTime"] != alert.Timestamp.Format(endpoint.TimeLayout) || v["status"] != "new" && v["status"] != "inProgress" {
		t.Errorf("served %v", v)
	}
	graphID := v["id"].(string)
	if ga, ok := g.Latest(graphID); !ok || ga.ProviderAlertID != id {
		t.Errorf("Latest(%s) %v %+v", graphID, ok, ga)
	}
	versions := func() int {
		n := 0
		for _, x := range g.Versions() {
			if x.ProviderAlertID == id {
				n++
			}
		}
		return n
	}
	if n := versions(); n != 1 {
		t.Fatalf("%d versions", n)
	}

	f.clock.Advance(time.Minute)
	if err := c.MarkRead(id); err != nil {
		t.Fatal(err)
	}
	if n := versions(); n != 1 {
		t.Errorf("marking read made %d versions", n)
	}
	if err := c.Close(id, 5, 0); err != nil {
		t.Fatal(err)
	}
	closed, _ := c.Latest(id)
	v = byProvider()[id]
	if v["status"] != "resolved" || v["classification"] != "truePositive" || v["lastUpdateDateTime"] != closed.ResolveTime.Format(endpoint.TimeLayout) ||
		v["resolvedDateTime"] != closed.ResolveTime.Format(endpoint.TimeLayout) || v["id"] != graphID {
		t.Errorf("closed: %v", v)
	}
	if n := versions(); n != 2 {
		t.Errorf("%d versions after closing", n)
	}
}

// TestGraphUnknownEnums: members after unknownFutureValue are shown only
// to a client that sends Prefer: include-unknown-enum-members (security-alert.md,
// evolvable enums).
func TestGraphUnknownEnums(t *testing.T) {
	t.Parallel()
	f := graphFixture(t, Options{})
	g := f.s.Graph(tenantA)
	g.Generate(20, GraphGenerate{ServiceSource: "microsoftDefenderForCloud"})
	at := f.clock.Now()
	g.Put(GraphAlert{ID: "x1", ServiceSource: "microsoftDefenderForEndpoint", DetectionSource: "antivirus", Status: "new",
		Severity: "low", Classification: "unknown", Determination: "unknown", LastUpdateDateTime: &at,
		Evidence: []GraphEvidence{{Type: "#microsoft.graph.security.urlEvidence", Verdict: "suspicious", RemediationStatus: "pendingApproval",
			Properties: map[string]json.RawMessage{"url": json.RawMessage(`"https://x.example"`)}}}}, time.Time{})
	tok := graphToken(t, f)
	for _, tt := range []struct {
		name    string
		prefer  []string
		visible bool
	}{
		{"no header", nil, false},
		{"Prefer", []string{"include-unknown-enum-members"}, true},
		{"among other preferences", []string{"odata.maxpagesize=10, Include-Unknown-Enum-Members"}, true},
		{"in a second header", []string{"return=minimal", "include-unknown-enum-members"}, true},
		{"another preference only", []string{"return=minimal"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := graphDo(t, f.s, http.MethodGet, tok, alertsV2, http.Header{"Prefer": tt.prefer})
			if got := a.header.Get("Preference-Applied") == "include-unknown-enum-members"; got != tt.visible {
				t.Errorf("Preference-Applied %q", a.header.Get("Preference-Applied"))
			}
			for _, v := range a.values() {
				if v["id"] == "x1" {
					rs := v["evidence"].([]any)[0].(map[string]any)["remediationStatus"]
					if want := map[bool]string{false: "unknownFutureValue", true: "pendingApproval"}[tt.visible]; rs != want {
						t.Errorf("remediationStatus %v, want %s", rs, want)
					}
					continue
				}
				src, det := v["serviceSource"], v["detectionSource"]
				if tt.visible && (src != "microsoftDefenderForCloud" || det == "unknownFutureValue") ||
					!tt.visible && (src != "unknownFutureValue" || det != "unknownFutureValue") {
					t.Errorf("serviceSource %v detectionSource %v", src, det)
				}
			}
		})
	}
	for _, v := range g.Versions() {
		if v.ID != "x1" && v.ServiceSource != "microsoftDefenderForCloud" {
			t.Errorf("Versions ServiceSource %q", v.ServiceSource)
		}
	}
}

func TestGraphFaults(t *testing.T) {
	t.Parallel()
	f := graphFixture(t, Options{})
	f.s.Graph(tenantA).Generate(10, GraphGenerate{})
	tok := graphToken(t, f)
	g := f.s.Graph(tenantA)
	raw := func(t *testing.T, c *http.Client) (*http.Response, []byte, error) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, f.s.URL()+alertsV2, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := c.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}
	tests := []struct {
		name       string
		fault      APIFault
		status     int
		code       string
		retryAfter string
	}{
		{"500", APIFault{Status: 500}, 500, "generalException", ""},
		{"502", APIFault{Status: 502}, 502, "generalException", ""},
		{"503 with Retry-After", APIFault{Status: 503, RetryAfter: 2 * time.Second}, 503, "serviceNotAvailable", "2"},
		{"throttled", APIFault{Throttled: true, RetryAfter: 1500 * time.Millisecond}, 429, "TooManyRequests", "2"},
		{"slow, then normal", APIFault{Delay: 20 * time.Millisecond}, 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g.Fail(1, tt.fault)
			start := time.Now()
			a := graphGet(t, f.s, tok, alertsV2)
			if tt.status == 200 {
				if a.status != 200 || len(a.values()) != 10 || time.Since(start) < tt.fault.Delay {
					t.Errorf("got %v after %v", a.status, time.Since(start))
				}
				return
			}
			checkGraphError(t, a, tt.status, tt.code, "")
			if a.header.Get("Retry-After") != tt.retryAfter {
				t.Errorf("Retry-After %q, want %q", a.header.Get("Retry-After"), tt.retryAfter)
			}
		})
	}
	t.Run("truncated", func(t *testing.T) {
		g.Fail(1, APIFault{Truncate: true})
		resp, b, err := raw(t, f.s.Client())
		if err == nil {
			var v any
			if json.Unmarshal(b, &v) == nil {
				t.Fatalf("a truncated body parsed: %d %s", resp.StatusCode, b)
			}
		}
	})
	t.Run("invalid JSON", func(t *testing.T) {
		g.Fail(1, APIFault{InvalidJSON: true})
		resp, b, err := raw(t, f.s.Client())
		if err != nil || resp.StatusCode != 200 || json.Valid(b) {
			t.Fatalf("%v %v valid=%v", err, resp, json.Valid(b))
		}
	})
	t.Run("dropped", func(t *testing.T) {
		g.Fail(1, APIFault{Drop: true})
		if _, _, err := raw(t, http1Client(f.s)); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("random faults are seeded", func(t *testing.T) {
		g.SetFaultRates(FaultRates{ServerError: 0.5})
		defer g.SetFaultRates(FaultRates{})
		errs := 0
		for range 40 {
			if a := graphGet(t, f.s, tok, alertsV2); a.status == 500 {
				errs++
			}
		}
		if errs == 0 || errs == 40 {
			t.Errorf("%d of 40 failed", errs)
		}
	})
	t.Run("a fault never hides a 401", func(t *testing.T) {
		g.Fail(1, APIFault{Status: 500})
		checkGraphError(t, graphGet(t, f.s, "", alertsV2), 401, "InvalidAuthenticationToken", "")
		if a := graphGet(t, f.s, tok, alertsV2); a.status != 500 {
			t.Errorf("the queued fault played on %v", a.status)
		}
	})
}

func TestGraphAPIRequests(t *testing.T) {
	t.Parallel()
	f := graphFixture(t, Options{})
	tok := graphToken(t, f)
	graphGet(t, f.s, "", alertsV2)
	graphGet(t, f.s, tok, alertsV2+"?$top=5")
	var logged []APIRequest
	for _, r := range f.s.APIRequests() {
		if r.API == "graph" {
			logged = append(logged, r)
		}
	}
	if len(logged) != 2 {
		t.Fatalf("log %+v", logged)
	}
	if r := logged[0]; r.Status != 401 || r.AppID != "" || r.TokenID != "" {
		t.Errorf("refused request %+v", r)
	}
	if r := logged[1]; r.Status != 200 || r.AppID != appGraphR || r.TenantID != tenantA || r.TokenID == "" || r.Query != "$top=5" ||
		r.Path != alertsV2 || r.Done.Before(r.Time) {
		t.Errorf("served request %+v", r)
	}
}

func TestGraphGenerator(t *testing.T) {
	t.Parallel()
	f := graphFixture(t, Options{})
	g := f.s.Graph(tenantA)
	now := f.clock.Now()
	from, to := now.Add(-2*time.Hour), now.Add(-time.Hour)
	ids := g.Generate(600, GraphGenerate{From: from, To: to, VisibleAfter: 3 * time.Hour})
	if len(ids) != 600 || g.Len() != 600 {
		t.Fatalf("%d ids, %d stored", len(ids), g.Len())
	}
	types, sources, detections := map[string]bool{}, map[string]bool{}, map[string]bool{}
	enums := graph.DocumentedValues()
	for _, id := range ids {
		a, ok := g.Latest(id)
		if !ok {
			t.Fatalf("Latest(%s)", id)
		}
		if a.LastUpdateDateTime.Before(from) || a.LastUpdateDateTime.After(to) || a.CreatedDateTime.After(*a.LastUpdateDateTime) {
			t.Errorf("%s: created %v updated %v", id, a.CreatedDateTime, a.LastUpdateDateTime)
		}
		for _, check := range []struct {
			v       string
			members []string
		}{{a.Status, enums["status"]}, {a.Severity, enums["severity"]}, {a.Classification, enums["classification"]},
			{a.Determination, enums["determination"]}, {a.ServiceSource, enums["serviceSource"]}, {a.DetectionSource, enums["detectionSource"]}} {
			if !slices.Contains(check.members, check.v) || check.v == graph.UnknownFutureValue {
				t.Errorf("%s: %q is not a member", id, check.v)
			}
		}
		if (a.Status == "resolved") != (a.ResolvedDateTime != nil) || a.IncidentID == nil || a.ProviderAlertID == "" || a.ID == a.ProviderAlertID {
			t.Errorf("%s: %+v", id, a)
		}
		sources[a.ServiceSource], detections[a.DetectionSource] = true, true
		for _, e := range a.Evidence {
			types[e.Type] = true
			if !slices.Contains(enums["remediationStatus"], e.RemediationStatus) || !slices.Contains(enums["verdict"], e.Verdict) {
				t.Errorf("%s: evidence %+v", id, e)
			}
		}
	}
	if want := GraphEvidenceTypes(); len(types) != len(want) {
		var missing []string
		for _, w := range want {
			if !types[w] {
				missing = append(missing, w)
			}
		}
		t.Errorf("evidence types missing: %v", missing)
	}
	if len(sources) != graph.GeneratedServiceSources() {
		t.Errorf("service sources %v", sources)
	}
	tok := graphToken(t, f)
	if a := graphGet(t, f.s, tok, alertsV2+"?$count=true&$top=1"); a.body["@odata.count"] != float64(0) {
		t.Errorf("visible before VisibleAfter: %v", a.body["@odata.count"])
	}
	f.clock.Advance(3 * time.Hour)
	tok = graphToken(t, f) // the first one expired meanwhile
	if a := graphGet(t, f.s, tok, alertsV2+"?$count=true&$top=1"); a.body["@odata.count"] != float64(600) {
		t.Errorf("visible after VisibleAfter: %v", a.body["@odata.count"])
	}

	t.Run("same timestamp", func(t *testing.T) {
		for _, id := range g.Generate(20, GraphGenerate{From: from, To: to, SameTimestamp: true}) {
			if a, _ := g.Latest(id); !a.LastUpdateDateTime.Equal(from) {
				t.Errorf("%s: %v", id, a.LastUpdateDateTime)
			}
		}
	})

	t.Run("UpdateRandom makes later versions", func(t *testing.T) {
		before := len(g.Versions())
		updated := g.UpdateRandom(50, time.Minute)
		if len(updated) != 50 || len(g.Versions()) != before+50 {
			t.Fatalf("%d updated, versions %d → %d", len(updated), before, len(g.Versions()))
		}
		for _, id := range updated {
			a, _ := g.Latest(id)
			if !a.LastUpdateDateTime.Equal(f.clock.Now()) && !a.LastUpdateDateTime.After(f.clock.Now()) {
				t.Errorf("%s: lastUpdateDateTime %v, now %v", id, a.LastUpdateDateTime, f.clock.Now())
			}
		}
	})

	t.Run("seeded", func(t *testing.T) {
		gen := func() []string {
			s := startServer(t, Options{Seed: 7, Now: f.clock.Now})
			return s.Graph(tenantA).Generate(5, GraphGenerate{From: from, To: to})
		}
		if a, b := gen(), gen(); !slices.Equal(a, b) {
			t.Errorf("%v != %v", a, b)
		}
	})

	t.Run("unknown service source", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("no panic")
			}
		}()
		g.Generate(1, GraphGenerate{ServiceSource: "microsoftDefenderForEndpoint"})
	})
}

// TestGraphConcurrent pages while every part changes; run with -race.
func TestGraphConcurrent(t *testing.T) {
	t.Parallel()
	f := graphFixture(t, Options{})
	now := f.clock.Now()
	f.s.Endpoint(tenantA).Generate(200, EndpointGenerate{From: now.Add(-time.Hour), To: now})
	f.s.CloudApps(tenantA).Generate(100, CloudAppsGenerate{From: now.Add(-time.Hour), To: now})
	f.s.Graph(tenantA).Generate(200, GraphGenerate{From: now.Add(-time.Hour), To: now})
	tok := graphToken(t, f)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := alertsV2 + "?$top=50"
			for next != "" {
				a := graphGet(t, f.s, tok, next)
				if a.status != 200 {
					errs <- fmt.Errorf("status %d", a.status)
					return
				}
				next, _ = a.body["@odata.nextLink"].(string)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 5 {
			f.s.Endpoint(tenantA).UpdateRandom(10, 0)
			f.s.CloudApps(tenantA).CloseRandom(5, 0)
			f.s.Graph(tenantA).UpdateRandom(10, 0)
			f.s.Graph(tenantA).Versions()
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := errors.Join(); err != nil {
		t.Fatal(err)
	}
}
