package sim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
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
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/alertexport/alertexport/internal/sim/endpoint"
	"github.com/alertexport/alertexport/internal/sim/entra"
	"github.com/alertexport/alertexport/internal/sim/simapi"
)

const (
	appRW     = "1c2d3e4f-5061-4728-9394-a5b6c7d8e9f0" // Alert.ReadWrite.All
	appNoRole = "2d3e4f50-6172-4839-a4b5-c6d7e8f90a1b" // installed, no role
	mtp       = "https://api.security.microsoft.com"   // Microsoft Threat Protection, not MDE
)

// endpointFixture is newFixture plus the apps the MDE tests need. Unless
// opts says otherwise there is no rate limit, so tests can send many
// requests.
func endpointFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	unlimited(&opts, APIEndpoint)
	f := newFixture(t, opts)
	f.s.RegisterApp(App{ClientID: appRW, Secrets: []Secret{{Value: "rw"}}})
	f.s.Grant(tenantA, appRW, mde, "Alert.ReadWrite.All")
	f.s.RegisterApp(App{ClientID: appNoRole, Secrets: []Secret{{Value: "none"}}})
	f.s.Grant(tenantA, appNoRole, mde)
	f.s.Grant(tenantA, appA, mtp, "Incident.Read.All")
	return f
}

// tokenFor gets an access token for resource from the simulator's token
// endpoint, as a client-credentials client would.
func tokenFor(tb testing.TB, s *Server, tenant, clientID, secret, resource string) string {
	tb.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {resource + "/.default"}}
	resp, err := s.Client().PostForm(s.URL()+"/"+tenant+"/oauth2/v2.0/token", form)
	if err != nil {
		tb.Fatalf("token: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		tb.Fatalf("token: status %d, err %v", resp.StatusCode, err)
	}
	return body.AccessToken
}

// mdeAnswer is an answer of the alerts API.
type mdeAnswer struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (a mdeAnswer) String() string {
	if len(a.raw) > 600 {
		return fmt.Sprintf("%d %s...", a.status, a.raw[:600])
	}
	return fmt.Sprintf("%d %s", a.status, a.raw)
}

func (a mdeAnswer) values() []map[string]any {
	vs, _ := a.body["value"].([]any)
	out := make([]map[string]any, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.(map[string]any))
	}
	return out
}

func (a mdeAnswer) ids() []string {
	var ids []string
	for _, v := range a.values() {
		ids = append(ids, v["id"].(string))
	}
	return ids
}

func (a mdeAnswer) errorField(name string) string {
	e, _ := a.body["error"].(map[string]any)
	s, _ := e[name].(string)
	return s
}

// getAlerts sends GET pathQuery with the token (none when "").
func getAlerts(tb testing.TB, s *Server, token, pathQuery string) mdeAnswer {
	tb.Helper()
	return getAlertsWith(tb, s.Client(), s, token, pathQuery)
}

func getAlertsWith(tb testing.TB, c *http.Client, s *Server, token, pathQuery string) mdeAnswer {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL()+pathQuery, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", pathQuery, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("GET %s: body: %v", pathQuery, err)
	}
	a := mdeAnswer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		tb.Fatalf("GET %s: answer is not JSON: %v\n%s", pathQuery, err, raw)
	}
	return a
}

// filterQuery is the alerts path with $filter encoded as url.Values does.
func filterQuery(filter string) string {
	return "/api/alerts?" + url.Values{"$filter": {filter}}.Encode()
}

// checkMDEError asserts an MDE-shaped error answer.
func checkMDEError(t *testing.T, a mdeAnswer, status int, code, msgPart string) {
	t.Helper()
	if a.status != status || a.errorField("code") != code || !strings.Contains(a.errorField("message"), msgPart) {
		t.Fatalf("got %v\nwant %d %s with %q", a, status, code, msgPart)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if target := a.errorField("target"); !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(target) {
		t.Errorf("target %q is not a correlation GUID", target)
	}
	if e, _ := a.body["error"].(map[string]any); len(e) != 3 || len(a.body) != 1 {
		t.Errorf("error body has other fields: %s", a.raw)
	}
}

func TestEndpointAuth(t *testing.T) {
	t.Parallel()
	f := endpointFixture(t, Options{})
	s := f.s
	s.Endpoint(tenantA).Generate(3, EndpointGenerate{})

	// A token signed by another key, with otherwise perfect claims.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	forgedTok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"aud": mde, "iss": "https://sts.windows.net/" + tenantA + "/", "tid": tenantA, "appid": appA,
		"roles": []string{"Alert.Read.All"}, "exp": f.clock.Now().Add(time.Hour).Unix(),
	})
	forgedTok.Header["kid"] = s.KeyID()
	forged, err := forgedTok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}

	read := tokenFor(t, s, tenantA, appA, secretA, mde)
	tests := []struct {
		name, header, path string
		status             int
		code, msg          string
		challenge          string
	}{
		{"no Authorization header", "", "/api/alerts", 401, "Unauthorized", "missing", "Bearer"},
		{"Basic scheme", "Basic " + b64(appA+":"+secretA), "/api/alerts", 401, "Unauthorized", "Bearer scheme", "Bearer"},
		{"Bearer without token", "Bearer ", "/api/alerts", 401, "Unauthorized", "Bearer scheme", "Bearer"},
		{"not a JWT", "Bearer not-a-token", "/api/alerts", 401, "Unauthorized", "invalid", `Bearer error="invalid_token"`},
		{"forged signature", "Bearer " + forged, "/api/alerts", 401, "Unauthorized", "invalid", `Bearer error="invalid_token"`},
		{"tampered payload", "Bearer " + tamper(read), "/api/alerts", 401, "Unauthorized", "invalid", `Bearer error="invalid_token"`},
		{"Graph audience", "Bearer " + tokenFor(t, s, tenantA, appA, secretA, graphRes), "/api/alerts", 403, "Forbidden", "audience 'https://graph.microsoft.com'", ""},
		{"Microsoft Threat Protection audience", "Bearer " + tokenFor(t, s, tenantA, appA, secretA, mtp), "/api/alerts", 403, "Forbidden", "audience 'https://api.security.microsoft.com'", ""},
		{"Defender for Cloud Apps audience", "Bearer " + tokenFor(t, s, tenantA, appA, secretA, "05a65629-4c1b-48c1-a78b-804c4abdd4af"), "/api/alerts", 403, "Forbidden", "audience", ""},
		{"no role", "Bearer " + tokenFor(t, s, tenantA, appNoRole, "none", mde), "/api/alerts", 403, "Forbidden", "'Alert.Read.All' or 'Alert.ReadWrite.All'", ""},
		{"Alert.Read.All", "Bearer " + read, "/api/alerts", 200, "", "", ""},
		{"Alert.ReadWrite.All", "Bearer " + tokenFor(t, s, tenantA, appRW, "rw", mde), "/api/alerts", 200, "", "", ""},
		{"scheme in lower case", "bearer " + read, "/api/alerts", 200, "", "", ""},
		{"other URI of WindowsDefenderATP", "Bearer " + tokenFor(t, s, tenantA, appA, secretA, "https://securitycenter.onmicrosoft.com/windowsatpservice"), "/api/alerts", 200, "", "", ""},
		{"versioned path", "Bearer " + read, "/api/v1.0/alerts", 200, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, s.URL()+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			a := mdeAnswer{status: resp.StatusCode, header: resp.Header, raw: raw}
			if err := json.Unmarshal(raw, &a.body); err != nil {
				t.Fatalf("not JSON: %s", raw)
			}
			if tt.status == 200 {
				if a.status != 200 || len(a.values()) != 3 {
					t.Fatalf("got %v, want 3 alerts", a)
				}
				return
			}
			checkMDEError(t, a, tt.status, tt.code, tt.msg)
			if got := a.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, tt.challenge) || (tt.challenge == "") != (got == "") {
				t.Errorf("WWW-Authenticate %q, want %q...", got, tt.challenge)
			}
		})
	}

	t.Run("expired token", func(t *testing.T) {
		f := endpointFixture(t, Options{})
		tok := tokenFor(t, f.s, tenantA, appA, secretA, mde)
		f.clock.Advance(3599*time.Second + entra.AccessTokenSkew - time.Second)
		if a := getAlerts(t, f.s, tok, "/api/alerts"); a.status != 200 {
			t.Fatalf("within the 5-minute skew: %v", a)
		}
		f.clock.Advance(2 * time.Second)
		a := getAlerts(t, f.s, tok, "/api/alerts")
		checkMDEError(t, a, 401, "Unauthorized", "expired")
		if got := a.header.Get("WWW-Authenticate"); !strings.Contains(got, "expired") {
			t.Errorf("WWW-Authenticate %q", got)
		}
	})

	t.Run("alerts are per tenant", func(t *testing.T) {
		s.AddTenant(tenantB)
		s.Grant(tenantB, appA, mde, "Alert.Read.All")
		s.Endpoint(strings.ToUpper(tenantB)).Generate(2, EndpointGenerate{})
		a := getAlerts(t, s, tokenFor(t, s, tenantB, appA, secretA, mde), "/api/alerts")
		if a.status != 200 || len(a.values()) != 2 {
			t.Fatalf("tenant B: %v", a)
		}
		for _, v := range a.values() {
			if v["aadTenantId"] != tenantB {
				t.Errorf("aadTenantId %v in tenant B's answer", v["aadTenantId"])
			}
		}
	})
}

// tamper flips a character of the token's payload.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	p := []byte(parts[1])
	p[10] ^= 1
	parts[1] = string(p)
	return strings.Join(parts, ".")
}

// filterSet stores five alerts with exact values and returns a token.
func filterSet(t *testing.T) (*fixture, string) {
	t.Helper()
	f := endpointFixture(t, Options{})
	at := func(s string) *time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return &tm
	}
	base := func(id, lastUpdate, status, severity, category, source string) EndpointAlert {
		return EndpointAlert{ID: id, Status: status, Severity: severity, Category: category, DetectionSource: source,
			Title: "t", AlertCreationTime: at("2018-07-31T00:00:00Z"), LastEventTime: at("2018-07-30T00:00:00Z"),
			LastUpdateTime: at(lastUpdate), AADTenantID: tenantA}
	}
	a1 := base("da637472900382838869_1364969609", "2019-11-22T00:00:00Z", "New", "High", "Execution", "WindowsDefenderAtp")
	a1.IncidentID = simapi.Ptr(int64(100))
	a2 := base("da637472900382838870_-961444813", "2019-11-22T00:00:00.0000001Z", "InProgress", "Low", "CredentialAccess", "WindowsDefenderAv")
	a2.IncidentID, a2.InvestigationID, a2.AssignedTo = simapi.Ptr(int64(100)), simapi.Ptr(int64(7)), simapi.Ptr("secop123@contoso.com")
	a3 := base("da637472900382838871_5", "2019-11-21T23:59:59.9999999Z", "Resolved", "Medium", "Malware", "WindowsDefenderAv")
	a3.IncidentID, a3.InvestigationID, a3.AssignedTo = simapi.Ptr(int64(200)), simapi.Ptr(int64(8)), simapi.Ptr("O'Brien@contoso.com")
	a4 := base("da637472900382838872_6", "2019-11-22T02:00:00Z", "Unknown", "UnSpecified", "SuspiciousActivity", "CustomDetection")
	a4.AlertCreationTime, a4.LastEventTime = nil, nil
	a5 := base("da636687360000000000_7", "2018-08-01T00:00:00Z", "New", "Informational", "Execution", "MTP")
	a5.IncidentID = simapi.Ptr(int64(300))
	for _, a := range []EndpointAlert{a1, a2, a3, a4, a5} {
		f.s.Endpoint(tenantA).Put(a, time.Time{})
	}
	return f, tokenFor(t, f.s, tenantA, appA, secretA, mde)
}

func TestEndpointFilterAccepted(t *testing.T) {
	t.Parallel()
	f, tok := filterSet(t)
	tests := []struct {
		name   string
		filter string // encoded with url.Values unless raw is set
		raw    string // the query string exactly as sent
		want   int
	}{
		{"ge, documented example", "lastUpdateTime ge 2019-11-22T00:00:00Z", "", 3},
		{"'+' as space, as in the odata samples", "", "$filter=lastUpdateTime+ge+2019-11-22T00:00:00Z", 3},
		{"%20 as space", "", "$filter=lastUpdateTime%20ge%202019-11-22T00:00:00Z", 3},
		{"gt excludes the equal time", "lastUpdateTime gt 2019-11-22T00:00:00Z", "", 2},
		{"7 fractional digits", "lastUpdateTime gt 2019-11-22T00:00:00.0000000Z", "", 2},
		{"exact at 100 ns", "lastUpdateTime ge 2019-11-22T00:00:00.0000001Z", "", 2},
		{"1 fractional digit", "lastUpdateTime ge 2019-11-22T00:00:00.1Z", "", 1},
		{"lt", "lastUpdateTime lt 2019-11-22T00:00:00Z", "", 2},
		{"le without seconds", "lastUpdateTime le 2019-11-22T00:00Z", "", 3},
		{"eq", "lastUpdateTime eq 2019-11-21T23:59:59.9999999Z", "", 1},
		{"ne", "lastUpdateTime ne 2019-11-21T23:59:59.9999999Z", "", 4},
		{"+hh:mm offset, percent-encoded", "lastUpdateTime ge 2019-11-22T01:00:00+01:00", "", 3},
		{"-hh:mm offset", "lastUpdateTime ge 2019-11-21T19:00:00-05:00", "", 3},
		{"date only", "lastUpdateTime eq 2018-08-01", "", 1},
		{"date only with Z", "lastUpdateTime le 2018-08-01Z", "", 1},
		{"range, as go-mdatp sends it", "lastUpdateTime gt 2019-11-21T00:00:00Z and lastUpdateTime le 2019-11-22T00:00:00Z", "", 2},
		{"null datetime never compares", "alertCreationTime lt 2030-01-01T00:00:00Z", "", 4},
		{"datetime eq null", "alertCreationTime eq null", "", 1},
		{"datetime ne null", "alertCreationTime ne null", "", 4},
		{"lastEventTime", "lastEventTime ge 2018-07-30T00:00:00Z", "", 4},
		{"long eq", "incidentId eq 100", "", 2},
		{"long ne counts null", "incidentId ne 100", "", 3},
		{"long gt", "incidentId gt 100", "", 2},
		{"long eq null", "incidentId eq null", "", 1},
		{"doc's InvestigationId spelling", "InvestigationId eq 7", "", 1},
		{"investigationId ne null", "investigationId ne null", "", 2},
		{"id", "id eq 'da637472900382838869_1364969609'", "", 1},
		{"id ordinal order", "id gt 'da637472900382838870'", "", 3},
		{"quote escaped by doubling", "assignedTo eq 'O''Brien@contoso.com'", "", 1},
		{"doc's asssignedTo spelling", "asssignedTo eq 'secop123@contoso.com'", "", 1},
		{"assignedTo eq null", "assignedTo eq null", "", 3},
		{"detectionSource", "detectionSource eq 'WindowsDefenderAv'", "", 2},
		{"strings are case-sensitive", "detectionSource eq 'windowsdefenderav'", "", 0},
		{"category", "category eq 'Execution'", "", 2},
		{"enum", "status eq 'New'", "", 2},
		{"enum literal in any case", "status eq 'new'", "", 2},
		{"enum ne, as in the $count example", "status ne 'Resolved'", "", 4},
		{"severity", "severity eq 'High'", "", 1},
		{"severity in lower case", "severity eq 'high'", "", 1},
		{"severity UnSpecified", "severity eq 'UnSpecified'", "", 1},
		{"property name in any case", "LASTUPDATETIME ge 2019-11-22T00:00:00Z", "", 3},
		{"and", "status eq 'New' and severity eq 'High'", "", 1},
		{"or", "status eq 'New' or status eq 'Unknown'", "", 3},
		{"and binds tighter than or", "status eq 'Unknown' or status eq 'New' and severity eq 'High'", "", 2},
		{"parentheses", "(status eq 'New' or status eq 'InProgress') and incidentId eq 100", "", 2},
		{"not with parentheses", "not (status eq 'New')", "", 3},
		{"not not", "not not (status eq 'New')", "", 2},
		{"extra spaces", "  status   eq   'New'  ", "", 2},
		{"literal on the left", "2019-11-22T00:00:00Z le lastUpdateTime", "", 3},
		{"true", "true", "", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := filterQuery(tt.filter)
			if tt.raw != "" {
				q = "/api/alerts?" + tt.raw
			}
			a := getAlerts(t, f.s, tok, q)
			if a.status != 200 || len(a.values()) != tt.want {
				t.Fatalf("got %d alerts, want %d: %v", len(a.values()), tt.want, a)
			}
		})
	}
}

func TestEndpointFilterRejected(t *testing.T) {
	t.Parallel()
	f, tok := filterSet(t)
	tests := []struct {
		name   string
		filter string
		raw    string
		msg    string
	}{
		{"quoted datetime", "lastUpdateTime ge '2019-11-22T00:00:00Z'", "",
			"A binary operator with incompatible types was detected. Found operand types 'Edm.DateTimeOffset' and 'Edm.String' for operator kind 'GreaterThanOrEqual'."},
		{"datetime without offset", "lastUpdateTime ge 2019-11-22T00:00:00", "",
			"Unrecognized 'Edm.DateTimeOffset' literal '2019-11-22T00:00:00' at '18' in 'lastUpdateTime ge 2019-11-22T00:00:00'."},
		{"'+' offset sent unencoded becomes a space", "", "$filter=lastUpdateTime%20ge%202019-11-22T00:00:00+02:00",
			"Unrecognized 'Edm.DateTimeOffset' literal '2019-11-22T00:00:00' at '18'"},
		{"8 fractional digits", "lastUpdateTime ge 2019-11-22T00:00:00.00000001Z", "", "Unrecognized 'Edm.DateTimeOffset' literal"},
		{"empty fraction", "lastUpdateTime ge 2019-11-22T00:00:00.Z", "", "Unrecognized 'Edm.DateTimeOffset' literal"},
		{"30 February", "lastUpdateTime ge 2019-02-30T00:00:00Z", "", "Unrecognized 'Edm.DateTimeOffset' literal"},
		{"hour 24", "lastUpdateTime ge 2019-11-22T24:00:00Z", "", "Unrecognized 'Edm.DateTimeOffset' literal"},
		{"month 13", "lastUpdateTime ge 2019-13-01T00:00:00Z", "", "Unrecognized 'Edm.DateTimeOffset' literal"},
		{"offset beyond 14 hours", "lastUpdateTime ge 2019-11-22T00:00:00+15:00", "", "Unrecognized 'Edm.DateTimeOffset' literal"},
		{"lower-case z", "lastUpdateTime ge 2019-11-22T00:00:00z", "", "Unrecognized 'Edm.DateTimeOffset' literal"},
		{"number for a datetime", "lastUpdateTime ge 2019", "",
			"Found operand types 'Edm.DateTimeOffset' and 'Edm.Int32' for operator kind 'GreaterThanOrEqual'."},
		{"string for a long", "incidentId eq '100'", "", "Found operand types 'Edm.Int64' and 'Edm.String' for operator kind 'Equal'."},
		{"decimal for a long", "incidentId eq 1.5", "", "Found operand types 'Edm.Int64' and 'Edm.Decimal'"},
		{"number for a string", "id eq 5", "", "Found operand types 'Edm.String' and 'Edm.Int32'"},
		{"not an enum member", "status eq 'Critical'", "", "The string 'Critical' is not a valid enumeration type constant."},
		{"unquoted enum", "status eq New", "", "Could not find a property named 'New' on type 'Alert'."},
		{"ordering on an enum", "severity gt 'Low'", "", "not supported for the enumeration property 'severity'"},
		{"unknown property", "foo eq 1", "", "Could not find a property named 'foo' on type 'Alert'."},
		{"property that is not filterable", "title eq 'x'", "", "Could not find a property named 'title' on type 'Alert'."},
		{"AND in upper case", "status eq 'New' AND severity eq 'High'", "", "Syntax error at position 16 in"},
		{"EQ in upper case", "status EQ 'New'", "", "Syntax error at position 7 in"},
		{"not binds tighter than eq", "not status eq 'New'", "", "A unary operator with an incompatible type was detected. Found operand type 'AlertStatus' for operator kind 'Not'."},
		{"unterminated string", "status eq 'New", "", "There is an unterminated string literal at position 14"},
		{"missing parenthesis", "(status eq 'New'", "", "')' or operator expected at position 16"},
		{"missing operand", "status eq", "", "Expression expected at position 9"},
		{"dangling and", "status eq 'New' and", "", "Expression expected at position 19"},
		{"not boolean", "status", "", "The $filter expression must evaluate to a single boolean value."},
		{"and of a non-boolean", "status and true", "", "Found operand types 'AlertStatus' and 'Edm.Boolean' for operator kind 'And'."},
		{"function", "startswith(id,'da')", "", "An unknown function with name 'startswith'"},
		{"in operator", "status in ('New')", "", "Syntax error at position 7"},
		{"two properties", "lastEventTime eq lastUpdateTime", "", "Comparing two properties"},
		{"two literals", "1 eq 1", "", "must involve a property"},
		{"bad character", "status eq 'New' ; x", "", "Syntax error: character ';' is not valid at position 16"},
		{"typed literal", "status eq Microsoft.Alert'New'", "", "typed literals are not supported"},
		{"position counts UTF-16 units", "assignedTo eq '🔥' and", "", "Expression expected at position 22"},
		{"AND as an operand is a property name", "status eq 'New' and AND", "", "Could not find a property named 'AND' on type 'Alert'."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := filterQuery(tt.filter)
			if tt.raw != "" {
				q = "/api/alerts?" + tt.raw
			}
			a := getAlerts(t, f.s, tok, q)
			checkMDEError(t, a, 400, "ODataError", tt.msg)
			if !strings.HasPrefix(a.errorField("message"), "Invalid OData URI query: ") {
				t.Errorf("message %q", a.errorField("message"))
			}
		})
	}
}

func TestEndpointQueryOptions(t *testing.T) {
	t.Parallel()
	f := endpointFixture(t, Options{})
	ids := f.s.Endpoint(tenantA).Generate(30, EndpointGenerate{From: f.clock.Now().Add(-time.Hour), To: f.clock.Now()})
	tok := tokenFor(t, f.s, tenantA, appA, secretA, mde)
	all := getAlerts(t, f.s, tok, "/api/alerts").ids()
	if len(all) != len(ids) {
		t.Fatalf("got %d alerts, want %d", len(all), len(ids))
	}
	tests := []struct {
		name  string
		query string
		want  []string // ids, in answer order; nil with status 400
		msg   string
	}{
		{"$top", "$top=5", all[:5], ""},
		{"$top=0", "$top=0", []string{}, ""},
		{"$top at the cap", "$top=10000", all, ""},
		{"$top with a sign, as .NET parses it", "$top=%2B5", all[:5], ""},
		{"$skip", "$skip=25", all[25:], ""},
		{"$skip beyond the end", "$skip=1000", []string{}, ""},
		{"$top and $skip", "$skip=10&$top=7", all[10:17], ""},
		{"non-$ parameters are ignored", "top=1&filter=x&api-version=2", all, ""},
		{"$top beyond the cap", "$top=10001", nil, "The limit of '10000' for Top query has been exceeded. The value from the incoming request is '10001'."},
		{"negative $top", "$top=-1", nil, "Invalid value '-1' for $top query option found. The $top query option requires a non-negative integer value."},
		{"$top not an integer", "$top=ten", nil, "Invalid value 'ten' for $top query option found."},
		{"$top with a fraction", "$top=1.5", nil, "Invalid value '1.5' for $top query option found."},
		{"$top beyond Int64", "$top=9223372036854775808", nil, "Invalid value '9223372036854775808' for $top"},
		{"negative $skip", "$skip=-5", nil, "Invalid value '-5' for $skip query option found. The $skip query option requires a non-negative integer value."},
		{"$skip not an integer", "$skip=abc", nil, "Invalid value 'abc' for $skip query option found."},
		{"empty $filter", "$filter=", nil, "The value for OData query '$filter' cannot be empty."},
		{"empty $top", "$top=", nil, "The value for OData query '$top' cannot be empty."},
		{"$top twice", "$top=1&$top=2", nil, "Query option '$top' was specified more than once, but it must be specified at most once."},
		{"$orderby", "$orderby=alertCreationTime+desc", nil, "The query option '$orderby' is not supported by List alerts"},
		{"$select", "$select=id", nil, "The query option '$select' is not supported"},
		{"$count", "$count=true", nil, "The query option '$count' is not supported"},
		{"$search", "$search=x", nil, "The query option '$search' is not supported"},
		{"option names are case-sensitive", "$Filter=status+eq+'New'", nil, "The query parameter '$Filter' is not supported."},
		{"unknown option", "$foo=1", nil, "The query parameter '$foo' is not supported."},
		{"$expand of a structural property", "$expand=comments", nil, "Property 'comments' on type 'Alert' is not a navigation property or complex property."},
		{"$expand of an unknown property", "$expand=machine", nil, "Could not find a property named 'machine' on type 'Alert'."},
		{"$expand=*", "$expand=*", nil, "$expand=* is not supported"},
		{"$expand with nested options", "$expand=evidence($top=1)", nil, "Nested query options"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := getAlerts(t, f.s, tok, "/api/alerts?"+tt.query)
			if tt.want == nil {
				checkMDEError(t, a, 400, "ODataError", tt.msg)
				return
			}
			if a.status != 200 {
				t.Fatalf("status %v", a)
			}
			if got := a.ids(); !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("ids %v\nwant %v", got, tt.want)
			}
			if _, has := a.body["@odata.nextLink"]; has {
				t.Errorf("unexpected @odata.nextLink %v", a.body["@odata.nextLink"])
			}
		})
	}

	t.Run("malformed percent-encoding", func(t *testing.T) {
		t.Parallel()
		checkMDEError(t, getAlerts(t, f.s, tok, "/api/alerts?$filter=%zz"), 400, "BadRequest", "malformed")
	})
}

func TestEndpointEnvelope(t *testing.T) {
	t.Parallel()
	f := endpointFixture(t, Options{})
	f.s.Endpoint(tenantA).Generate(5, EndpointGenerate{})
	tok := tokenFor(t, f.s, tenantA, appA, secretA, mde)
	for _, path := range []string{"/api/alerts", "/api/v1.0/alerts"} {
		a := getAlerts(t, f.s, tok, path)
		if a.status != 200 || a.body["@odata.context"] != f.s.URL()+"/api/$metadata#Alerts" || len(a.body) != 2 {
			t.Errorf("%s: %v", path, a)
		}
		if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json; odata.metadata=minimal") || !strings.Contains(ct, "charset=utf-8") {
			t.Errorf("Content-Type %q", ct)
		}
		if a.header.Get("OData-Version") != "4.0" {
			t.Errorf("OData-Version %q", a.header.Get("OData-Version"))
		}
		// Non-ASCII is escaped: the body is pure ASCII.
		if i := bytes.IndexFunc(a.raw, func(r rune) bool { return r > 127 }); i >= 0 {
			t.Errorf("non-ASCII byte at %d", i)
		}
	}
}

// pageOf is an answer decoded just enough to page through it.
type pageOf struct {
	NextLink *string `json:"@odata.nextLink"`
	Value    []struct {
		ID string `json:"id"`
	} `json:"value"`
}

func getPage(t *testing.T, s *Server, token, pathQuery string) (pageOf, []byte) {
	t.Helper()
	a := getAlertsRaw(t, s, token, pathQuery)
	var p pageOf
	if err := json.Unmarshal(a, &p); err != nil {
		t.Fatalf("GET %s: %v", pathQuery, err)
	}
	return p, a
}

// getAlertsRaw returns the body of a 200 answer.
func getAlertsRaw(t *testing.T, s *Server, token, pathQuery string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL()+pathQuery, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: status %d, err %v: %.300s", pathQuery, resp.StatusCode, err, b)
	}
	return b
}

func TestEndpointNextLink(t *testing.T) {
	t.Parallel()
	f := endpointFixture(t, Options{})
	now := f.clock.Now()
	tn := f.s.Endpoint(tenantA)
	// Small alerts: the test is about counts, and 10,008 of them must be
	// served several times.
	for i := range 10008 {
		lu := now.Add(-time.Hour - time.Duration(i)*time.Millisecond)
		if i >= 10003 {
			lu = now.Add(-time.Duration(i-10002) * time.Second)
		}
		tn.Put(EndpointAlert{ID: fmt.Sprintf("da%d_%d", endpoint.DotNetTicks(lu), i), Status: "New", Severity: "Low", LastUpdateTime: &lu}, time.Time{})
	}
	tok := tokenFor(t, f.s, tenantA, appA, secretA, mde)

	t.Run("without $top: 10,000 and a link with $skip", func(t *testing.T) {
		t.Parallel()
		first, raw := getPage(t, f.s, tok, "/api/alerts")
		if len(first.Value) != 10000 || first.NextLink == nil || *first.NextLink != f.s.URL()+"/api/alerts?$skip=10000" {
			t.Fatalf("first page: %d alerts, nextLink %v", len(first.Value), first.NextLink)
		}
		// In the answer, the link comes before value.
		if bytes.Index(raw, []byte(`"@odata.nextLink"`)) > bytes.Index(raw, []byte(`"value"`)) {
			t.Error("@odata.nextLink after value")
		}
		second, _ := getPage(t, f.s, tok, strings.TrimPrefix(*first.NextLink, f.s.URL()))
		if len(second.Value) != 8 || second.NextLink != nil {
			t.Fatalf("second page: %d alerts, nextLink %v", len(second.Value), second.NextLink)
		}
		seen := map[string]bool{}
		for _, v := range append(first.Value, second.Value...) {
			seen[v.ID] = true
		}
		if len(seen) != tn.Len() {
			t.Errorf("the two pages hold %d distinct alerts, want %d", len(seen), tn.Len())
		}
	})

	t.Run("the link keeps the other options and advances $skip", func(t *testing.T) {
		t.Parallel()
		q := "$filter=lastUpdateTime+le+" + url.QueryEscape(now.Add(-30*time.Minute).Format(time.RFC3339)) + "&$skip=2&$expand=evidence"
		a, _ := getPage(t, f.s, tok, "/api/v1.0/alerts?"+q)
		want := f.s.URL() + "/api/v1.0/alerts?$filter=lastUpdateTime+le+" + url.QueryEscape(now.Add(-30*time.Minute).Format(time.RFC3339)) + "&$expand=evidence&$skip=10002"
		if len(a.Value) != 10000 || a.NextLink == nil || *a.NextLink != want {
			t.Fatalf("%d alerts, nextLink %v\nwant %s", len(a.Value), a.NextLink, want)
		}
		b, _ := getPage(t, f.s, tok, strings.TrimPrefix(want, f.s.URL()))
		if len(b.Value) != 1 || b.NextLink != nil {
			t.Fatalf("last page: %d alerts, nextLink %v", len(b.Value), b.NextLink)
		}
	})

	for _, q := range []string{"$top=10000", "$top=10", "$top=10000&$skip=5"} {
		t.Run("no link with "+q, func(t *testing.T) {
			t.Parallel()
			a, _ := getPage(t, f.s, tok, "/api/alerts?"+q)
			if a.NextLink != nil {
				t.Fatalf("%s: %d alerts, nextLink %v", q, len(a.Value), *a.NextLink)
			}
		})
	}
}

func TestEndpointExpand(t *testing.T) {
	t.Parallel()
	f := endpointFixture(t, Options{})
	ids := f.s.Endpoint(tenantA).Generate(40, EndpointGenerate{})
	tok := tokenFor(t, f.s, tenantA, appA, secretA, mde)
	withEvidence := 0
	for _, id := range ids {
		a, _ := f.s.Endpoint(tenantA).Latest(id)
		if len(a.Evidence) > 0 {
			withEvidence++
		}
	}
	if withEvidence == 0 {
		t.Fatal("no generated alert has evidence")
	}
	tests := []struct {
		query  string
		expand bool
	}{
		{"", false}, {"?$expand=evidence", true}, {"?$expand=Evidence", true}, {"?$top=40&$expand=evidence", true},
	}
	for _, tt := range tests {
		a := getAlerts(t, f.s, tok, "/api/alerts"+tt.query)
		if a.status != 200 || len(a.values()) != len(ids) {
			t.Fatalf("%q: %v", tt.query, a)
		}
		for _, v := range a.values() {
			ev, ok := v["evidence"].([]any)
			if !ok {
				t.Fatalf("%q: evidence is %T, want an array", tt.query, v["evidence"])
			}
			latest, _ := f.s.Endpoint(tenantA).Latest(v["id"].(string))
			if want := len(latest.Evidence); tt.expand && len(ev) != want || !tt.expand && len(ev) != 0 {
				t.Errorf("%q: alert %v has %d evidence items, Latest has %d", tt.query, v["id"], len(ev), want)
			}
		}
	}
}

func TestEndpointOrder(t *testing.T) {
	t.Parallel()
	f := endpointFixture(t, Options{})
	now := f.clock.Now()
	f.s.Endpoint(tenantA).Generate(300, EndpointGenerate{From: now.Add(-10 * time.Hour), To: now})
	tok := tokenFor(t, f.s, tenantA, appA, secretA, mde)
	a := getAlerts(t, f.s, tok, "/api/alerts")
	vals := a.values()
	if len(vals) != 300 {
		t.Fatalf("%d alerts", len(vals))
	}
	sorted := func(key string, desc bool) bool {
		return sort.SliceIsSorted(vals, func(i, j int) bool {
			if desc {
				return vals[i][key].(string) > vals[j][key].(string)
			}
			return vals[i][key].(string) < vals[j][key].(string)
		})
	}
	for _, key := range []string{"lastUpdateTime", "alertCreationTime", "id"} {
		for _, desc := range []bool{false, true} {
			if sorted(key, desc) {
				t.Errorf("answer is sorted by %s (desc %v); clients must not be able to rely on an order", key, desc)
			}
		}
	}
	// Stable across requests over the same set: $skip pages fit together.
	var paged []string
	for skip := 0; skip < 300; skip += 70 {
		paged = append(paged, getAlerts(t, f.s, tok, fmt.Sprintf("/api/alerts?$top=70&$skip=%d", skip)).ids()...)
	}
	if !slices.Equal(paged, a.ids()) {
		t.Error("pages of $top/$skip do not concatenate to the full answer")
	}
}

func TestEndpointLateIndexing(t *testing.T) {
	t.Parallel()
	f := endpointFixture(t, Options{})
	tn := f.s.Endpoint(tenantA)
	tok := tokenFor(t, f.s, tenantA, appA, secretA, mde)
	now := f.clock.Now()
	lu := now.Add(-time.Second)
	tn.Put(EndpointAlert{ID: "da1_1", Status: "New", Severity: "Low", LastUpdateTime: &lu}, lu.Add(10*time.Second))
	ids := tn.Generate(3, EndpointGenerate{VisibleAfter: 5 * time.Second})

	statusOf := func() map[string]string {
		t.Helper()
		m := map[string]string{}
		for _, v := range getAlerts(t, f.s, tok, "/api/alerts").values() {
			m[v["id"].(string)] = v["status"].(string)
		}
		return m
	}
	if got := statusOf(); len(got) != 0 {
		t.Fatalf("visible before VisibleAt: %v", got)
	}
	f.clock.Advance(5 * time.Second)
	if got := statusOf(); len(got) != 3 || got["da1_1"] != "" {
		t.Fatalf("at +5s want the 3 generated alerts only, got %v", got)
	}
	f.clock.Advance(4 * time.Second)
	if got := statusOf(); got["da1_1"] != "New" {
		t.Fatalf("at VisibleAt: %v", got)
	}

	// An update is indexed late too: the old version is served meanwhile.
	if err := tn.Update("da1_1", func(a *EndpointAlert) { a.Status = "InProgress" }, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := statusOf(); got["da1_1"] != "New" {
		t.Errorf("right after the update: %q, want the old version", got["da1_1"])
	}
	latest, _ := tn.Latest("da1_1")
	if latest.Status != "InProgress" || !latest.LastUpdateTime.Equal(f.clock.Now()) {
		t.Errorf("Latest: status %s, lastUpdateTime %v (now %v)", latest.Status, latest.LastUpdateTime, f.clock.Now())
	}
	f.clock.Advance(30 * time.Second)
	if got := statusOf(); got["da1_1"] != "InProgress" {
		t.Errorf("after the delay: %q", got["da1_1"])
	}

	// A second update in the same instant still moves lastUpdateTime on.
	if err := tn.Update("da1_1", nil, 0); err != nil {
		t.Fatal(err)
	}
	if err := tn.Update("da1_1", nil, 0); err != nil {
		t.Fatal(err)
	}
	var versions []EndpointVersion
	for _, v := range tn.Versions() {
		if v.ID == "da1_1" {
			versions = append(versions, v)
		}
	}
	if len(versions) != 4 {
		t.Fatalf("versions %v", versions)
	}
	for i := 1; i < len(versions); i++ {
		if !versions[i].LastUpdateTime.After(versions[i-1].LastUpdateTime) {
			t.Errorf("version %d lastUpdateTime %v not after %v", i, versions[i].LastUpdateTime, versions[i-1].LastUpdateTime)
		}
	}
	if d := versions[3].LastUpdateTime.Sub(versions[2].LastUpdateTime); d != endpoint.Tick {
		t.Errorf("same-instant update moved lastUpdateTime by %v, want 100ns", d)
	}
	if err := tn.Update("nope", nil, 0); err == nil {
		t.Error("Update of an unknown id succeeded")
	}
	if err := tn.Update(ids[0], func(a *EndpointAlert) { a.ID = "x" }, 0); err == nil {
		t.Error("Update that changes the id succeeded")
	}
}

func TestEndpointRateLimit(t *testing.T) {
	t.Parallel()
	f := endpointFixture(t, Options{RateLimits: map[string]RateLimits{APIEndpoint: LimitTo(RateLimit{Requests: 3, Per: time.Hour})}})
	s := f.s
	s.AddTenant(tenantB)
	s.Grant(tenantB, appA, mde, "Alert.Read.All")
	tokA := tokenFor(t, s, tenantA, appA, secretA, mde)
	tokB := tokenFor(t, s, tenantB, appA, secretA, mde)
	noRole := tokenFor(t, s, tenantA, appNoRole, "none", mde)

	// Refused authentication and authorization do not count.
	getAlerts(t, s, "", "/api/alerts")
	getAlerts(t, s, noRole, "/api/alerts")
	for i := range 3 {
		if a := getAlerts(t, s, tokA, "/api/alerts"); a.status != 200 {
			t.Fatalf("request %d: %v", i+1, a)
		}
	}
	a := getAlerts(t, s, tokA, "/api/alerts")
	checkMDEError(t, a, 429, "TooManyRequests", "3 calls per 1h0m0s")
	if a.header.Get("Retry-After") != "3600" {
		t.Errorf("Retry-After %q, want 3600 (whole seconds, rounded up)", a.header.Get("Retry-After"))
	}
	if b := getAlerts(t, s, tokB, "/api/alerts"); b.status != 200 {
		t.Errorf("tenant B throttled by tenant A's calls: %v", b)
	}
	// A throttled request is refused before its query is read.
	if b := getAlerts(t, s, tokA, "/api/alerts?$top=-1"); b.status != 429 {
		t.Errorf("throttled request with a bad query: %v", b)
	}

	t.Run("the window slides over real time", func(t *testing.T) {
		const window = 200 * time.Millisecond
		s.SetRateLimits(APIEndpoint, LimitTo(RateLimit{Requests: 1, Per: window}))
		// Wait out the real-time window (the only sleeps of this test are
		// the time the limit is about).
		lastEnd := time.Now()
		time.Sleep(window + 20*time.Millisecond)
		for attempt := 0; ; attempt++ {
			start := time.Now()
			if a := getAlerts(t, s, tokA, "/api/alerts"); a.status != 200 {
				t.Fatalf("first call of a window: %v", a)
			}
			a := getAlerts(t, s, tokA, "/api/alerts")
			lastEnd = time.Now()
			if a.status == 429 {
				if a.header.Get("Retry-After") != "1" {
					t.Errorf("Retry-After %q for a 200ms window, want 1", a.header.Get("Retry-After"))
				}
				break
			}
			if time.Since(start) < window || attempt == 5 {
				t.Fatalf("second call within the window: %v", a)
			}
			// The machine was too slow to send two calls in 200ms; again.
			time.Sleep(time.Until(lastEnd.Add(window + 20*time.Millisecond)))
		}
		time.Sleep(time.Until(lastEnd.Add(window + 20*time.Millisecond)))
		if a := getAlerts(t, s, tokA, "/api/alerts"); a.status != 200 {
			t.Fatalf("after the window: %v", a)
		}
	})

	t.Run("NoRateLimits lifts the limit", func(t *testing.T) {
		s.SetRateLimits(APIEndpoint, NoRateLimits())
		for range 10 {
			if a := getAlerts(t, s, tokA, "/api/alerts"); a.status != 200 {
				t.Fatalf("%v", a)
			}
		}
		s.SetRateLimits(APIEndpoint, LimitTo(RateLimit{Requests: 1, Per: time.Hour}))
		if a := getAlerts(t, s, tokA, "/api/alerts"); a.status != 429 || a.header.Get("Retry-After") == "" {
			t.Fatalf("1 per hour after 10 calls: %v", a)
		}
	})

	t.Run("invalid limits", func(t *testing.T) {
		if _, err := Start(Options{RateLimits: map[string]RateLimits{APIEndpoint: LimitTo(RateLimit{Requests: 0, Per: time.Second})}}); err == nil {
			t.Error("Start accepted a limit of 0 requests")
		}
		defer func() {
			if recover() == nil {
				t.Error("SetRateLimits accepted a zero window")
			}
		}()
		s.SetRateLimits(APIEndpoint, LimitTo(RateLimit{Requests: 1}))
	})
}

// http1Client is a client of s that speaks HTTP/1.1 only.
func http1Client(s *Server) *http.Client {
	tr := s.transport.Clone()
	tr.ForceAttemptHTTP2 = false
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	// A fresh connection per request: Go retries an idempotent request
	// once when a reused connection breaks, which would hide a Drop.
	tr.DisableKeepAlives = true
	return &http.Client{Transport: tr}
}

func TestEndpointFaults(t *testing.T) {
	t.Parallel()
	f := endpointFixture(t, Options{})
	s := f.s
	tn := s.Endpoint(tenantA)
	tn.Generate(50, EndpointGenerate{})
	tok := tokenFor(t, s, tenantA, appA, secretA, mde)

	// raw sends one request and returns the status and body, or the error.
	raw := func(c *http.Client, query string) (int, http.Header, []byte, error) {
		req, _ := http.NewRequest(http.MethodGet, s.URL()+"/api/alerts"+query, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := c.Do(req)
		if err != nil {
			return 0, nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b, err
	}

	clients := map[string]*http.Client{"HTTP/2": s.Client(), "HTTP/1.1": http1Client(s)}
	for proto, c := range clients {
		t.Run(proto, func(t *testing.T) {
			tests := []struct {
				name   string
				fault  APIFault
				status int
				code   string
				retry  string
				check  func(t *testing.T, body []byte, err error)
			}{
				{name: "500", fault: APIFault{Status: 500}, status: 500, code: "InternalServerError"},
				{name: "503 with Retry-After rounded up", fault: APIFault{Status: 503, RetryAfter: 1500 * time.Millisecond}, status: 503, code: "ServiceUnavailable", retry: "2"},
				{name: "429", fault: APIFault{Status: 429, RetryAfter: 30 * time.Second}, status: 429, code: "TooManyRequests", retry: "30"},
				{name: "400", fault: APIFault{Status: 400}, status: 400, code: "BadRequest"},
				{name: "drop", fault: APIFault{Drop: true}, check: func(t *testing.T, _ []byte, err error) {
					if err == nil {
						t.Error("no error from a dropped connection")
					}
				}},
				{name: "truncate", fault: APIFault{Truncate: true}, status: 200, check: func(t *testing.T, body []byte, err error) {
					if err == nil {
						t.Errorf("truncated body read without error (%d bytes)", len(body))
					}
					if len(body) == 0 || !bytes.HasPrefix(body, []byte(`{"@odata.context":`)) {
						t.Errorf("no partial body: %q", body)
					}
				}},
				{name: "invalid JSON", fault: APIFault{InvalidJSON: true}, status: 200, check: func(t *testing.T, body []byte, err error) {
					var v any
					if err != nil || json.Unmarshal(body, &v) == nil {
						t.Errorf("err %v; body decodes: %v", err, json.Unmarshal(body, &v) == nil)
					}
					if !bytes.HasSuffix(body, []byte("]}")) {
						t.Error("invalid JSON body is not complete")
					}
				}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					tn.Fail(1, tt.fault)
					status, h, body, err := raw(c, "")
					if tt.check != nil {
						if tt.status != 0 && status != tt.status {
							t.Errorf("status %d, want %d", status, tt.status)
						}
						tt.check(t, body, err)
					} else {
						if err != nil {
							t.Fatal(err)
						}
						a := mdeAnswer{status: status, header: h, raw: body}
						if err := json.Unmarshal(body, &a.body); err != nil {
							t.Fatalf("not JSON: %s", body)
						}
						checkMDEError(t, a, tt.status, tt.code, "")
						if got := h.Get("Retry-After"); got != tt.retry {
							t.Errorf("Retry-After %q, want %q", got, tt.retry)
						}
					}
					if a := getAlertsWith(t, c, s, tok, "/api/alerts"); a.status != 200 || len(a.values()) != 50 {
						t.Errorf("the fault was not used up: %v", a)
					}
				})
			}
		})
	}

	t.Run("invalid JSON on an empty page", func(t *testing.T) {
		tn.Fail(1, APIFault{InvalidJSON: true})
		_, _, body, err := raw(s.Client(), "?$top=0")
		var v any
		if err != nil || json.Unmarshal(body, &v) == nil {
			t.Errorf("err %v, body %s", err, body)
		}
	})

	t.Run("delay, then the normal answer", func(t *testing.T) {
		tn.Fail(1, APIFault{Delay: 150 * time.Millisecond})
		start := time.Now()
		status, _, _, err := raw(s.Client(), "")
		if err != nil || status != 200 || time.Since(start) < 150*time.Millisecond {
			t.Errorf("status %d, err %v after %v", status, err, time.Since(start))
		}
	})

	t.Run("delay, the client gives up", func(t *testing.T) {
		tn.Fail(1, APIFault{Delay: time.Hour})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/api/alerts", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		_, err := s.Client().Do(req)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err %v, want the client's deadline", err)
		}
	})

	t.Run("faults queue in order and come after authentication", func(t *testing.T) {
		tn.Fail(2, APIFault{Status: 503})
		tn.Fail(0, APIFault{Status: 400}) // nothing
		tn.Fail(1, APIFault{Status: 500})
		if a := getAlerts(t, s, "", "/api/alerts"); a.status != 401 {
			t.Fatalf("unauthenticated request: %v", a)
		}
		var got []int
		for range 4 {
			got = append(got, getAlerts(t, s, tok, "/api/alerts").status)
		}
		if want := []int{503, 503, 500, 200}; !slices.Equal(got, want) {
			t.Errorf("statuses %v, want %v", got, want)
		}
	})

	t.Run("fault rates", func(t *testing.T) {
		for _, tt := range []struct {
			rates  FaultRates
			status int
		}{
			{FaultRates{ServerError: 1}, 500},
			{FaultRates{Throttle: 1}, 429},
			{FaultRates{Slow: 1, SlowDelay: time.Millisecond}, 200},
			{FaultRates{}, 200},
		} {
			tn.SetFaultRates(tt.rates)
			a := getAlerts(t, s, tok, "/api/alerts")
			if a.status != tt.status {
				t.Errorf("%+v: %v", tt.rates, a)
			}
			if tt.status == 429 && a.header.Get("Retry-After") != "1" {
				t.Errorf("random throttle Retry-After %q", a.header.Get("Retry-After"))
			}
		}
		tn.SetFaultRates(FaultRates{Truncate: 1})
		if _, _, _, err := raw(s.Client(), ""); err == nil {
			t.Error("Truncate rate 1: body read without error")
		}
		tn.SetFaultRates(FaultRates{})
	})
}

func TestEndpointFaultRatesSeeded(t *testing.T) {
	t.Parallel()
	draw := func(seed int64) []APIFault {
		t.Helper()
		s := startServer(t, Options{Seed: seed})
		tn := s.Endpoint(tenantA)
		tn.SetFaultRates(FaultRates{ServerError: 0.1, Throttle: 0.1, Slow: 0.1, Truncate: 0.1})
		var out []APIFault
		for range 1000 {
			f, _ := tn.Next(time.Second)
			out = append(out, f)
		}
		return out
	}
	a, b, c := draw(0), draw(0), draw(7)
	if !reflect.DeepEqual(a, b) {
		t.Error("same seed, different faults")
	}
	if reflect.DeepEqual(a, c) {
		t.Error("different seeds, same faults")
	}
	counts := map[string]int{}
	for _, f := range a {
		switch {
		case f.Status == 500:
			counts["server"]++
		case f.Status == 429:
			counts["throttle"]++
		case f.Delay == simapi.DefaultSlowDelay:
			counts["slow"]++
		case f.Truncate:
			counts["truncate"]++
		}
	}
	for _, k := range []string{"server", "throttle", "slow", "truncate"} {
		if counts[k] < 60 || counts[k] > 140 {
			t.Errorf("%s faults: %d of 1000 at rate 0.1", k, counts[k])
		}
	}
}

func TestEndpointAPIRequests(t *testing.T) {
	t.Parallel()
	f := endpointFixture(t, Options{})
	f.s.Endpoint(tenantA).Generate(3, EndpointGenerate{})
	tok := tokenFor(t, f.s, tenantA, appA, secretA, mde)
	getAlerts(t, f.s, "", "/api/alerts")
	getAlerts(t, f.s, tok, "/api/v1.0/alerts?$filter=status+eq+'New'%20or%20true&$top=2")
	getAlerts(t, f.s, tok, "/api/alerts?$top=-1")
	log := f.s.APIRequests()
	if len(log) != 3 {
		t.Fatalf("log %+v", log)
	}
	for _, r := range log {
		if r.API != "endpoint" || r.Time.IsZero() {
			t.Errorf("entry %+v", r)
		}
	}
	want := []APIRequest{
		{API: "endpoint", Path: "/api/alerts", Status: 401},
		{API: "endpoint", TenantID: tenantA, AppID: appA, Path: "/api/v1.0/alerts", Query: "$filter=status eq 'New' or true&$top=2", Status: 200, Results: 2},
		{API: "endpoint", TenantID: tenantA, AppID: appA, Path: "/api/alerts", Query: "$top=-1", Status: 400},
	}
	for i := range log {
		// Done and the token's uti vary; check them here, compare the rest.
		if log[i].Done.Before(log[i].Time) || (log[i].TokenID == "") != (log[i].AppID == "") {
			t.Errorf("entry %d: Done %v, TokenID %q", i, log[i].Done, log[i].TokenID)
		}
		log[i].Time, log[i].Done, log[i].TokenID = time.Time{}, time.Time{}, ""
	}
	if !reflect.DeepEqual(log, want) {
		t.Errorf("log\n%+v\nwant\n%+v", log, want)
	}
}

func TestEndpointTimeFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string
	}{
		{"2021-01-26T20:33:59.2Z", "2021-01-26T20:33:59.2Z"},
		{"2020-07-20T10:53:50.19Z", "2020-07-20T10:53:50.19Z"},
		{"2021-01-26T20:33:57.7220239Z", "2021-01-26T20:33:57.7220239Z"},
		{"2021-01-26T20:33:59Z", "2021-01-26T20:33:59Z"},
		{"2021-01-26T20:33:59.000Z", "2021-01-26T20:33:59Z"},
		{"2021-01-26T20:33:59.123456789Z", "2021-01-26T20:33:59.1234567Z"},
		{"2021-01-26T22:33:59.5+02:00", "2021-01-26T20:33:59.5Z"},
	}
	for _, tt := range tests {
		in, err := time.Parse(time.RFC3339Nano, tt.in)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := (*endpoint.WireTime(&in)).MarshalText()
		if string(got) != tt.want {
			t.Errorf("%s: %s, want %s", tt.in, got, tt.want)
		}
	}
}

// jsonKeys returns the keys of the JSON object b, in order.
func jsonKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %v", err)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestEndpointAlertExample(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("testdata/endpoint-alert-example.json")
	if err != nil {
		t.Fatal(err)
	}
	var a EndpointAlert
	if err := json.Unmarshal(doc, &a); err != nil {
		t.Fatal(err)
	}
	if a.ID != "da637472900382838869_1364969609" || len(a.Evidence) != 3 || *a.Evidence[1].ProcessID != 3276 || a.DetectorID == nil {
		t.Fatalf("decoded %+v", a)
	}
	out, err := a.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	_ = json.Unmarshal(doc, &want)
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip differs:\n%s", out)
	}
	if k, w := jsonKeys(t, out), jsonKeys(t, doc); !slices.Equal(k, w) {
		t.Errorf("field order %v\nwant %v", k, w)
	}
	var outEv, docEv struct{ Evidence []json.RawMessage }
	_ = json.Unmarshal(out, &outEv)
	_ = json.Unmarshal(doc, &docEv)
	if k, w := jsonKeys(t, outEv.Evidence[0]), jsonKeys(t, docEv.Evidence[0]); !slices.Equal(k, w) {
		t.Errorf("evidence field order %v\nwant %v", k, w)
	}

	// Served by the API, the example is the same alert.
	f := endpointFixture(t, Options{})
	f.s.Endpoint(tenantA).Put(a, time.Time{})
	ans := getAlerts(t, f.s, tokenFor(t, f.s, tenantA, appA, secretA, mde), "/api/alerts?$expand=evidence")
	if vals := ans.values(); len(vals) != 1 || !reflect.DeepEqual(any(vals[0]), want) {
		t.Errorf("served %v", ans)
	}

	// Without detectorId, the key is absent, as in get-alerts Example 1.
	a.DetectorID = nil
	out, _ = a.MarshalJSON()
	if bytes.Contains(out, []byte("detectorId")) {
		t.Error("nil DetectorID is on the wire")
	}
}

var endpointIDPattern = regexp.MustCompile(`^da(\d{18})_(-?\d{1,10})$`)

func TestEndpointGenerator(t *testing.T) {
	t.Parallel()
	const n = 800
	f := endpointFixture(t, Options{})
	tn := f.s.Endpoint(tenantA)
	now := f.clock.Now()
	ids := tn.Generate(n, EndpointGenerate{From: now.Add(-24 * time.Hour), To: now})
	if len(ids) != n || tn.Len() != n {
		t.Fatalf("%d ids, Len %d", len(ids), tn.Len())
	}
	a := getAlerts(t, f.s, tokenFor(t, f.s, tenantA, appA, secretA, mde), "/api/alerts?$expand=evidence")
	vals := a.values()
	if len(vals) != n {
		t.Fatalf("%d alerts served", len(vals))
	}

	seen := map[string]map[string]bool{}
	mark := func(field string, v any) {
		if seen[field] == nil {
			seen[field] = map[string]bool{}
		}
		seen[field][fmt.Sprint(v)] = true
	}
	parse := func(v any) time.Time {
		s, _ := v.(string)
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatalf("time %v: %v", v, err)
		}
		return tm
	}
	digits := func(v any) int {
		s := v.(string)
		if i := strings.IndexByte(s, '.'); i >= 0 {
			return len(s) - i - 2
		}
		return 0
	}
	var text strings.Builder
	hugeCommandLine, negativeID := false, false
	for _, v := range vals {
		id := v["id"].(string)
		m := endpointIDPattern.FindStringSubmatch(id)
		if m == nil {
			t.Fatalf("id %q", id)
		}
		negativeID = negativeID || strings.HasPrefix(m[2], "-")
		created, lastEvent, first, updated := parse(v["alertCreationTime"]), parse(v["lastEventTime"]), parse(v["firstEventTime"]), parse(v["lastUpdateTime"])
		if !(!first.After(lastEvent) && !lastEvent.After(created) && !created.After(updated)) {
			t.Errorf("%s: first %v, last event %v, created %v, updated %v", id, first, lastEvent, created, updated)
		}
		if updated.Before(now.Add(-24*time.Hour)) || updated.After(now) {
			t.Errorf("%s: lastUpdateTime %v outside [From, To]", id, updated)
		}
		if ticks := endpoint.DotNetTicks(created); m[1] < fmt.Sprint(ticks) || m[1] > fmt.Sprint(ticks+10_000_000) {
			t.Errorf("%s: ticks not within a second after alertCreationTime %v", id, created)
		}
		if (v["status"] == "Resolved") != (v["resolvedTime"] != nil) {
			t.Errorf("%s: status %v with resolvedTime %v", id, v["status"], v["resolvedTime"])
		}
		if v["resolvedTime"] != nil {
			if r := parse(v["resolvedTime"]); r.Before(created) || r.After(updated) {
				t.Errorf("%s: resolvedTime %v outside [created, updated]", id, r)
			}
		}
		c, d := v["classification"], v["determination"]
		if c == nil && d != nil || c != nil && d != nil && !slices.Contains(endpoint.Determinations()[c.(string)], d.(string)) {
			t.Errorf("%s: determination %v with classification %v", id, d, c)
		}
		if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(v["machineId"].(string)) || strings.Count(v["computerDnsName"].(string), ".") < 2 {
			t.Errorf("%s: machine %v %v", id, v["machineId"], v["computerDnsName"])
		}
		if v["aadTenantId"] != tenantA {
			t.Errorf("%s: aadTenantId %v", id, v["aadTenantId"])
		}
		if v["category"] == "Malware" && v["threatName"] != nil && v["threatFamilyName"] == nil {
			t.Errorf("%s: threat name without family", id)
		}
		for _, k := range []string{"severity", "status", "investigationState", "classification", "category", "detectionSource"} {
			mark(k, v[k])
		}
		mark("determination", fmt.Sprintf("%v / %v", c, d))
		_, hasDetector := v["detectorId"]
		mark("detectorId present", hasDetector)
		mark("incidentId null", v["incidentId"] == nil)
		mark("investigationId null", v["investigationId"] == nil)
		mark("relatedUser null", v["relatedUser"] == nil)
		mark("rbacGroupName null", v["rbacGroupName"] == nil)
		mark("threatName null", v["threatName"] == nil)
		mark("assignedTo null", v["assignedTo"] == nil)
		mark("comments", len(v["comments"].([]any)))
		mark("lastUpdateTime digits", digits(v["lastUpdateTime"]))
		techniques := v["mitreTechniques"].([]any)
		mark("mitre empty", len(techniques) == 0)
		for _, tq := range techniques {
			mark("mitre subtechnique", strings.Contains(tq.(string), "."))
		}
		evidence := v["evidence"].([]any)
		mark("evidence count", len(evidence))
		text.WriteString(v["title"].(string) + "\n" + v["description"].(string) + "\n")
		for _, e := range evidence {
			ev := e.(map[string]any)
			if len(ev) != 25 {
				t.Errorf("%s: evidence with %d fields", id, len(ev))
			}
			mark("entityType", ev["entityType"])
			mark("detectionStatus", ev["detectionStatus"])
			if cmd, ok := ev["processCommandLine"].(string); ok && len(cmd) >= 8<<10 {
				hugeCommandLine = true
			}
			if ev["entityType"] == "Ip" {
				mark("ip version", strings.Contains(ev["ipAddress"].(string), ":"))
			}
			if ev["entityType"] == "File" && !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(ev["sha1"].(string)) || ev["entityType"] == "File" && len(ev["sha256"].(string)) != 64 {
				t.Errorf("%s: file hashes %v %v", id, ev["sha1"], ev["sha256"])
			}
		}
	}
	want := map[string][]string{
		"severity":              endpoint.DocumentedValues()["severity"],
		"status":                endpoint.DocumentedValues()["status"],
		"investigationState":    append(slices.Clone(endpoint.DocumentedValues()["investigationState"]), "<nil>"),
		"classification":        append(slices.Clone(endpoint.DocumentedValues()["classification"]), "<nil>"),
		"category":              endpoint.DocumentedValues()["category"],
		"detectionSource":       endpoint.DocumentedValues()["detectionSource"],
		"entityType":            endpoint.DocumentedValues()["entityType"],
		"detectionStatus":       append(slices.Clone(endpoint.DocumentedValues()["detectionStatus"]), "<nil>"),
		"detectorId present":    {"true", "false"},
		"incidentId null":       {"true", "false"},
		"investigationId null":  {"true", "false"},
		"relatedUser null":      {"true", "false"},
		"rbacGroupName null":    {"true", "false"},
		"threatName null":       {"true", "false"},
		"assignedTo null":       {"true", "false"},
		"mitre empty":           {"true", "false"},
		"mitre subtechnique":    {"true", "false"},
		"ip version":            {"true", "false"},
		"comments":              {"0", "1", "2", "3"},
		"evidence count":        {"0", "1", "2", "3", "4", "5", "6", "7", "8"},
		"lastUpdateTime digits": {"0", "1", "2", "3", "7"},
	}
	for c, ds := range endpoint.Determinations() {
		for _, d := range ds {
			want["determination"] = append(want["determination"], c+" / "+d)
		}
	}
	for field, values := range want {
		for _, v := range values {
			if !seen[field][v] {
				t.Errorf("%s %q never generated in %d alerts", field, v, n)
			}
		}
	}
	if !negativeID {
		t.Error("no id with a negative number")
	}
	if !hugeCommandLine {
		t.Error("no command line of 8 KiB or more")
	}
	all := text.String()
	for name, s := range map[string]string{"German": "ä", "Japanese": "請求書", "Arabic": "فاتورة", "emoji": "🔥", "combining accent": "\u0301",
		"quote": `"`, "<": "<", ">": ">", "&": "&"} {
		if !strings.Contains(all, s) {
			t.Errorf("no %s (%q) in titles and descriptions", name, s)
		}
	}
}

func TestEndpointGeneratorSeeded(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	gen := func(seed int64, tenant string) []EndpointAlert {
		t.Helper()
		s := startServer(t, Options{Seed: seed})
		tn := s.Endpoint(tenant)
		var out []EndpointAlert
		for _, id := range tn.Generate(50, EndpointGenerate{From: from, To: from.Add(time.Hour)}) {
			a, _ := tn.Latest(id)
			out = append(out, a)
		}
		return out
	}
	a, b := gen(0, tenantA), gen(0, strings.ToUpper(tenantA))
	for i := range a {
		a[i].AADTenantID, b[i].AADTenantID = "", "" // as given to Endpoint
	}
	if !reflect.DeepEqual(a, b) {
		t.Error("same seed and tenant, different alerts")
	}
	if c := gen(0, tenantB); reflect.DeepEqual(a[0].ID, c[0].ID) {
		t.Error("another tenant draws the same alerts")
	}
	if c := gen(42, tenantA); reflect.DeepEqual(a[0].ID, c[0].ID) {
		t.Error("another seed draws the same alerts")
	}

	t.Run("identical times", func(t *testing.T) {
		s := startServer(t, Options{})
		tn := s.Endpoint(tenantA)
		ids := tn.Generate(300, EndpointGenerate{From: from, To: from, SameCreationTime: true, VisibleAfter: time.Minute})
		seenIDs := map[string]bool{}
		var created time.Time
		for i, id := range ids {
			l, _ := tn.Latest(id)
			if !l.LastUpdateTime.Equal(from) || i > 0 && !l.AlertCreationTime.Equal(created) || l.AlertCreationTime.After(from) {
				t.Fatalf("%s: lastUpdateTime %v, alertCreationTime %v", id, l.LastUpdateTime, l.AlertCreationTime)
			}
			created = *l.AlertCreationTime
			seenIDs[id] = true
		}
		if len(seenIDs) != 300 {
			t.Errorf("%d distinct ids of 300", len(seenIDs))
		}
		for _, v := range tn.Versions() {
			if !v.VisibleAt.Equal(from.Add(time.Minute)) {
				t.Fatalf("VisibleAt %v", v.VisibleAt)
			}
		}
	})
}

func TestEndpointUpdateRandom(t *testing.T) {
	t.Parallel()
	f := endpointFixture(t, Options{})
	tn := f.s.Endpoint(tenantA)
	tn.Generate(100, EndpointGenerate{From: f.clock.Now().Add(-time.Hour), To: f.clock.Now()})
	statuses := map[string]bool{}
	for range 20 {
		f.clock.Advance(time.Second)
		ids := tn.UpdateRandom(10, 2*time.Second)
		if len(ids) != 10 || len(slices.Compact(slices.Sorted(slices.Values(ids)))) != 10 {
			t.Fatalf("UpdateRandom ids %v", ids)
		}
		for _, id := range ids {
			a, _ := tn.Latest(id)
			statuses[a.Status] = true
			if !a.LastUpdateTime.Equal(f.clock.Now()) {
				t.Errorf("%s: lastUpdateTime %v, want now %v", id, a.LastUpdateTime, f.clock.Now())
			}
			if (a.Status == "Resolved") != (a.ResolvedTime != nil) {
				t.Errorf("%s: %s with resolvedTime %v", id, a.Status, a.ResolvedTime)
			}
			if a.Status == "InProgress" && a.AssignedTo == nil {
				t.Errorf("%s: in progress without assignee", id)
			}
			if a.Classification != nil && a.Determination != nil && !slices.Contains(endpoint.Determinations()[*a.Classification], *a.Determination) {
				t.Errorf("%s: determination %s for %s", id, *a.Determination, *a.Classification)
			}
		}
	}
	for _, s := range []string{"New", "InProgress", "Resolved"} {
		if !statuses[s] {
			t.Errorf("no update led to %s", s)
		}
	}
	// Per alert, versions have increasing lastUpdateTime.
	last := map[string]time.Time{}
	for _, v := range tn.Versions() {
		if p, ok := last[v.ID]; ok && !v.LastUpdateTime.After(p) {
			t.Errorf("%s: lastUpdateTime %v after %v", v.ID, v.LastUpdateTime, p)
		}
		last[v.ID] = v.LastUpdateTime
	}
	if got := len(tn.UpdateRandom(1000, 0)); got != 100 {
		t.Errorf("UpdateRandom(1000) on 100 alerts updated %d", got)
	}
}

// TestEndpointConcurrent serves pages while the store changes (run with
// -race).
func TestEndpointConcurrent(t *testing.T) {
	t.Parallel()
	f := endpointFixture(t, Options{})
	tn := f.s.Endpoint(tenantA)
	tn.Generate(100, EndpointGenerate{From: f.clock.Now().Add(-time.Hour), To: f.clock.Now()})
	tok := tokenFor(t, f.s, tenantA, appA, secretA, mde)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/alerts?$expand=evidence&$top=50&$skip=%d", f.s.URL(), w*10+i), nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := f.s.Client().Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				var body struct{ Value []EndpointAlert }
				err = json.NewDecoder(resp.Body).Decode(&body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || len(body.Value) == 0 {
					t.Errorf("status %d, %d alerts, err %v", resp.StatusCode, len(body.Value), err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 5 {
			tn.UpdateRandom(10, 0)
			tn.Generate(10, EndpointGenerate{})
			tn.SetFaultRates(FaultRates{})
			_ = tn.Versions()
			f.clock.Advance(time.Second)
		}
	}()
	wg.Wait()
}

func BenchmarkEndpointPage10000(b *testing.B) {
	s := startServer(b, Options{RateLimits: map[string]RateLimits{APIEndpoint: NoRateLimits()}})
	s.AddTenant(tenantA)
	s.RegisterApp(App{ClientID: appA, Secrets: []Secret{{Value: secretA}}})
	s.Grant(tenantA, appA, mde, "Alert.Read.All")
	s.Endpoint(tenantA).Generate(10000, EndpointGenerate{})
	tok := tokenFor(b, s, tenantA, appA, secretA, mde)
	c := s.Client()
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/api/alerts?$top=10000&$expand=evidence", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ResetTimer()
	for b.Loop() {
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("status %d, err %v", resp.StatusCode, err)
		}
		b.SetBytes(n)
	}
}
