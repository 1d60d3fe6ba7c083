package sim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/sim/cloudapps"
	"github.com/alertexport/alertexport/internal/sim/simapi"
	"github.com/golang-jwt/jwt/v5"
)

const (
	cas           = CloudAppsResource                      // the Cloud Apps resource: appId = URI
	casInvManage  = "3e4f5061-7283-4940-b5c6-d7e8f90a1b2c" // Investigation.manage
	casDiscRead   = "4f506172-8394-4a51-86d7-e8f90a1b2c3d" // Discovery.read
	casDiscManage = "50617283-94a5-4b62-97e8-f90a1b2c3d4e" // Discovery.manage
	casSettings   = "61728394-a5b6-4c73-a8f9-0a1b2c3d4e5f" // Settings.read only
	casAlerts     = "/api/v1/alerts/"
)

// cloudAppsFixture is newFixture plus the apps the Cloud Apps tests need:
// app A may list alerts (Investigation.read), the others have the role
// their name says (secret "s"). Unless opts says otherwise there is no
// rate limit, so tests can send many requests.
func cloudAppsFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	unlimited(&opts, APICloudApps)
	f := newFixture(t, opts)
	f.s.Grant(tenantA, appA, cas, "Investigation.read")
	for app, role := range map[string]string{casInvManage: "Investigation.manage", casDiscRead: "Discovery.read",
		casDiscManage: "Discovery.manage", casSettings: "Settings.read"} {
		f.s.RegisterApp(App{ClientID: app, Secrets: []Secret{{Value: "s"}}})
		f.s.Grant(tenantA, app, cas, role)
	}
	f.s.RegisterApp(App{ClientID: appNoRole, Secrets: []Secret{{Value: "none"}}})
	f.s.Grant(tenantA, appNoRole, cas)
	return f
}

func (f *fixture) casToken(t *testing.T) string {
	t.Helper()
	return tokenFor(t, f.s, tenantA, appA, secretA, cas)
}

// casReply is an answer of the Cloud Apps API.
type casReply struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any // nil when the body is not a JSON object
}

func (a casReply) String() string {
	if len(a.raw) > 600 {
		return fmt.Sprintf("%d %s...", a.status, a.raw[:600])
	}
	return fmt.Sprintf("%d %s", a.status, a.raw)
}

func (a casReply) data() []map[string]any {
	vs, _ := a.body["data"].([]any)
	out := make([]map[string]any, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.(map[string]any))
	}
	return out
}

func (a casReply) ids() []string {
	ids := []string{}
	for _, v := range a.data() {
		ids = append(ids, v["_id"].(string))
	}
	return ids
}

func (a casReply) detail() string { s, _ := a.body["detail"].(string); return s }

// digits is the last digit of each id, sorted: the set of casSet alerts
// an answer holds.
func (a casReply) digits() string {
	var d []byte
	for _, id := range a.ids() {
		d = append(d, id[len(id)-1])
	}
	slices.Sort(d)
	return string(d)
}

// casRequest sends one request; auth is the whole Authorization header
// ("" for none).
func casRequest(tb testing.TB, c *http.Client, s *Server, method, pathQuery, auth, contentType, body string) casReply {
	tb.Helper()
	req, err := http.NewRequest(method, s.URL()+pathQuery, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if body == "" {
		req.Body, req.ContentLength = nil, 0
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, pathQuery, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: body: %v", method, pathQuery, err)
	}
	a := casReply{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

// casList POSTs params as a JSON body with a Bearer token.
func casList(tb testing.TB, s *Server, tok string, params any) casReply {
	tb.Helper()
	b, err := json.Marshal(params)
	if err != nil {
		tb.Fatal(err)
	}
	return casRequest(tb, s.Client(), s, http.MethodPost, casAlerts, "Bearer "+tok, "application/json", string(b))
}

type obj = map[string]any

// checkCASError asserts an error answer {"detail": "...<part>..."}.
func checkCASError(t *testing.T, a casReply, status int, part string) {
	t.Helper()
	if a.status != status || !strings.Contains(a.detail(), part) || len(a.body) != 1 {
		t.Fatalf("got %v\nwant %d with a detail containing %q", a, status, part)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestCloudAppsAuth(t *testing.T) {
	t.Parallel()
	f := cloudAppsFixture(t, Options{})
	s := f.s
	s.AddTenant(tenantB)
	s.CloudApps(tenantA).Generate(3, CloudAppsGenerate{})
	s.CloudApps(tenantB).Generate(2, CloudAppsGenerate{})

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	forgedTok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"aud": cas, "iss": "https://sts.windows.net/" + tenantA + "/", "tid": tenantA, "appid": appA,
		"roles": []string{"Investigation.read"}, "exp": f.clock.Now().Add(time.Hour).Unix(),
	})
	forgedTok.Header["kid"] = s.KeyID()
	forged, err := forgedTok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	read := f.casToken(t)
	legacy := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		name, auth string
		status     int
		detail     string
		n          int // alerts served when 200
	}{
		{"no Authorization header", "", 401, "credentials were not provided", 0},
		{"Basic scheme", "Basic " + b64(appA+":"+secretA), 401, "not supported", 0},
		{"Bearer without token", "Bearer ", 401, "No credentials provided", 0},
		{"not a JWT", "Bearer not-a-token", 401, "invalid", 0},
		{"forged signature", "Bearer " + forged, 401, "invalid", 0},
		{"tampered payload", "Bearer " + tamper(read), 401, "invalid", 0},
		{"Defender for Endpoint audience", "Bearer " + tokenFor(t, s, tenantA, appA, secretA, mde), 401, "audience 'https://api.securitycenter.microsoft.com'", 0},
		{"Graph audience", "Bearer " + tokenFor(t, s, tenantA, appA, secretA, graphRes), 401, "audience 'https://graph.microsoft.com'", 0},
		{"no role", "Bearer " + tokenFor(t, s, tenantA, appNoRole, "none", cas), 403, "Investigation.read", 0},
		{"Settings.read only", "Bearer " + tokenFor(t, s, tenantA, casSettings, "s", cas), 403, "permission", 0},
		{"Investigation.read", "Bearer " + read, 200, "", 3},
		{"Investigation.manage", "Bearer " + tokenFor(t, s, tenantA, casInvManage, "s", cas), 200, "", 3},
		{"Discovery.read", "Bearer " + tokenFor(t, s, tenantA, casDiscRead, "s", cas), 200, "", 3},
		{"Discovery.manage", "Bearer " + tokenFor(t, s, tenantA, casDiscManage, "s", cas), 200, "", 3},
		{"bearer in lower case", "bearer " + read, 200, "", 3},
		{"legacy token not configured", "Token " + legacy, 401, "Invalid token.", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := casRequest(t, s.Client(), s, http.MethodGet, casAlerts, tt.auth, "", "")
			if tt.status != 200 {
				checkCASError(t, a, tt.status, tt.detail)
				if tt.status == 401 && a.header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				return
			}
			if a.status != 200 || len(a.data()) != tt.n {
				t.Fatalf("got %v", a)
			}
		})
	}

	t.Run("legacy token", func(t *testing.T) {
		tn := s.CloudApps(tenantB)
		tn.SetLegacyToken(legacy)
		for _, auth := range []string{"Token " + legacy, "token " + legacy} {
			if a := casRequest(t, s.Client(), s, http.MethodGet, casAlerts, auth, "", ""); a.status != 200 || len(a.data()) != 2 {
				t.Fatalf("%s: %v", auth, a)
			}
		}
		last := s.APIRequests()[len(s.APIRequests())-1]
		if last.TenantID != tenantB || last.AppID != "" {
			t.Errorf("logged %+v", last)
		}
		checkCASError(t, casRequest(t, s.Client(), s, http.MethodGet, casAlerts, "Token "+legacy+"0", "", ""), 401, "Invalid token.")
		checkCASError(t, casRequest(t, s.Client(), s, http.MethodGet, casAlerts, "Token ", "", ""), 401, "No credentials provided")
		tn.SetLegacyToken("")
		checkCASError(t, casRequest(t, s.Client(), s, http.MethodGet, casAlerts, "Token "+legacy, "", ""), 401, "Invalid token.")
	})

	t.Run("expired token", func(t *testing.T) {
		f := cloudAppsFixture(t, Options{})
		tok := f.casToken(t)
		f.clock.Advance(time.Hour + 6*time.Minute) // past exp and the 5-minute skew
		a := casRequest(t, f.s.Client(), f.s, http.MethodGet, casAlerts, "Bearer "+tok, "", "")
		checkCASError(t, a, 401, "expired")
		if !strings.Contains(a.header.Get("WWW-Authenticate"), "invalid_token") {
			t.Errorf("WWW-Authenticate %q", a.header.Get("WWW-Authenticate"))
		}
	})
}

// casSet stores five alerts with exact values (times relative to the
// fixture's clock) and returns a token.
func casSet(t *testing.T) (*fixture, string, time.Time) {
	t.Helper()
	f := cloudAppsFixture(t, Options{})
	now := f.clock.Now()
	t0 := now.Add(-10 * 24 * time.Hour)
	svc := func(id string) CloudAppsEntity {
		return CloudAppsEntity{ID: id, NumericID: true, Label: "app " + id, Type: "service"}
	}
	alert := func(id string, ts time.Time, sev, res, status int, resolved *time.Time, es ...CloudAppsEntity) CloudAppsAlert {
		return CloudAppsAlert{ID: id, ContextID: tenantA, Title: "t " + id, Timestamp: ts, SeverityValue: sev,
			ResolutionStatusValue: res, StatusValue: status, ResolveTime: resolved, Entities: es, Stories: []int{0}}
	}
	at := func(d time.Duration) *time.Time { x := t0.Add(d); return &x }
	alerts := []CloudAppsAlert{
		alert("a00000000000000000000001", t0, 0, 0, 0, nil, svc("11161"),
			CloudAppsEntity{ID: "acc-1", Inst: simapi.Ptr(0), Label: "u1", Type: "account", EntityType: simapi.Ptr(2)},
			CloudAppsEntity{ID: "10.0.0.1", Label: "10.0.0.1", Type: "ip"},
			CloudAppsEntity{ID: "pol-1", Label: "p1", PolicyType: "FILE", Type: "policyRule"}),
		alert("a00000000000000000000002", t0.Add(time.Hour), 1, 2, 1, at(2*time.Hour), svc("15600"),
			CloudAppsEntity{ID: "file-2", Label: "f.docx", Type: "file"}),
		alert("a00000000000000000000003", t0.Add(2*time.Hour), 2, 5, 2, at(5*time.Hour), svc("20940"),
			CloudAppsEntity{ID: "acc-3", Inst: simapi.Ptr(1), Label: "u3", Type: "account"}),
		alert("a00000000000000000000004", now.Add(-24*time.Hour), 3, 0, 1, nil),
		alert("a00000000000000000000005", now.Add(-3*24*time.Hour), 1, 3, 1, simapi.Ptr(now.Add(-2*24*time.Hour))),
	}
	for _, a := range alerts {
		f.s.CloudApps(tenantA).Put(a, time.Time{})
	}
	return f, f.casToken(t), t0
}

func TestCloudAppsFilterAccepted(t *testing.T) {
	t.Parallel()
	f, tok, t0 := casSet(t)
	now := f.clock.Now()
	ms := func(tm time.Time) int64 { return tm.UnixMilli() }
	h := time.Hour
	tests := []struct {
		name    string
		filters any
		want    string // the alerts' digits (see casReply.digits)
	}{
		{"none", nil, "12345"},
		{"empty object", obj{}, "12345"},
		{"date gte", obj{"date": obj{"gte": ms(t0.Add(h))}}, "2345"},
		{"date gte is inclusive", obj{"date": obj{"gte": ms(t0.Add(2 * h))}}, "345"},
		{"date lte", obj{"date": obj{"lte": ms(t0.Add(h))}}, "12"},
		{"date gte and lte", obj{"date": obj{"gte": ms(t0), "lte": ms(t0.Add(h))}}, "12"},
		{"date as a float", obj{"date": obj{"gte": float64(ms(t0.Add(h))) + 0.5}}, "345"},
		{"date range", obj{"date": obj{"range": []any{obj{"start": ms(t0), "end": ms(t0)}, obj{"start": ms(now.Add(-25 * h)), "end": ms(now)}}}}, "14"},
		{"date range, inclusive ends", obj{"date": obj{"range": []any{obj{"start": ms(t0.Add(h)), "end": ms(t0.Add(2 * h))}}}}, "23"},
		{"date range, empty list", obj{"date": obj{"range": []any{}}}, ""},
		{"date gte_ndays", obj{"date": obj{"gte_ndays": 2}}, "4"},
		{"date lte_ndays", obj{"date": obj{"lte_ndays": 2}}, "1235"},
		{"resolutionDate gte", obj{"resolutionDate": obj{"gte": ms(t0.Add(3 * h))}}, "35"},
		{"resolutionDate lte", obj{"resolutionDate": obj{"lte": ms(t0.Add(2 * h))}}, "2"},
		{"resolutionDate range", obj{"resolutionDate": obj{"range": []any{obj{"start": ms(t0), "end": ms(t0.Add(5 * h))}}}}, "23"},
		{"severity eq scalar", obj{"severity": obj{"eq": 1}}, "25"},
		{"severity eq list", obj{"severity": obj{"eq": []any{0, 3}}}, "14"},
		{"severity neq", obj{"severity": obj{"neq": []any{1, 2}}}, "14"},
		{"severity eq informational", obj{"severity": obj{"eq": 3}}, "4"},
		{"resolutionStatus eq", obj{"resolutionStatus": obj{"eq": []any{0}}}, "14"},
		{"resolutionStatus neq", obj{"resolutionStatus": obj{"neq": 0}}, "235"},
		{"alertOpen true", obj{"alertOpen": obj{"eq": true}}, "14"},
		{"alertOpen false", obj{"alertOpen": obj{"eq": false}}, "235"},
		{"read true", obj{"read": obj{"eq": true}}, "245"},
		{"read false", obj{"read": obj{"eq": false}}, "13"},
		{"id eq scalar", obj{"id": obj{"eq": "a00000000000000000000003"}}, "3"},
		{"id eq list", obj{"id": obj{"eq": []any{"a00000000000000000000003", "a00000000000000000000005", "nope"}}}, "35"},
		{"id eq empty list", obj{"id": obj{"eq": []any{}}}, ""},
		{"id neq", obj{"id": obj{"neq": []any{"a00000000000000000000001"}}}, "2345"},
		{"ID as the doc's table writes it", obj{"ID": obj{"eq": "a00000000000000000000002"}}, "2"},
		{"entity.service", obj{"entity.service": obj{"eq": 20940}}, "3"},
		{"entity.service neq", obj{"entity.service": obj{"neq": []any{11161, 15600}}}, "345"},
		{"entity.instance", obj{"entity.instance": obj{"eq": 1}}, "3"},
		{"entity.ip", obj{"entity.ip": obj{"eq": "10.0.0.1"}}, "1"},
		{"entity.file", obj{"entity.file": obj{"eq": []any{"file-2"}}}, "2"},
		{"entity.policy", obj{"entity.policy": obj{"eq": "pol-1"}}, "1"},
		{"entity.entity", obj{"entity.entity": obj{"eq": []any{obj{"id": "acc-3", "inst": 1}}}}, "3"},
		{"entity.entity, inst defaults to 0", obj{"entity.entity": obj{"eq": obj{"id": "acc-1"}}}, "1"},
		{"entity.entity, other instance", obj{"entity.entity": obj{"eq": obj{"id": "acc-3"}}}, ""},
		{"filters are ANDed", obj{"alertOpen": obj{"eq": false}, "severity": obj{"eq": 1}, "date": obj{"lte": ms(t0.Add(h))}}, "2"},
		{"new and closed, as a poll asks", obj{"resolutionDate": obj{"gte": ms(t0)}, "date": obj{"gte": ms(t0.Add(h))}}, "235"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := casList(t, f.s, tok, obj{"filters": tt.filters, "sortField": "date", "sortDirection": "asc"})
			if a.status != 200 {
				t.Fatalf("%v", a)
			}
			if got := a.digits(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCloudAppsFilterRejected(t *testing.T) {
	t.Parallel()
	f, tok, _ := casSet(t)
	tests := []struct {
		name    string
		filters any
		detail  string
	}{
		{"unknown filter", obj{"lastUpdateTime": obj{"gte": 1}}, "unknown filter 'lastUpdateTime'"},
		{"filter names are case-sensitive", obj{"Date": obj{"gte": 1}}, "unknown filter 'Date'"},
		{"documented but not modelled", obj{"risk": obj{"eq": 1}}, "does not model"},
		{"date gt", obj{"date": obj{"gt": 1}}, "operator 'gt' is not supported by filter 'date'"},
		{"date eq", obj{"date": obj{"eq": 1}}, "operator 'eq'"},
		{"resolutionDate gte_ndays", obj{"resolutionDate": obj{"gte_ndays": 1}}, "operator 'gte_ndays' is not supported by filter 'resolutionDate'"},
		{"severity gte", obj{"severity": obj{"gte": 1}}, "which takes eq, neq"},
		{"alertOpen neq", obj{"alertOpen": obj{"neq": true}}, "operator 'neq'"},
		{"isset", obj{"resolutionDate": obj{"isset": true}}, "operator 'isset'"},
		{"date as a string", obj{"date": obj{"gte": "1621941916475"}}, "expected a number"},
		{"range not a list", obj{"date": obj{"range": obj{"start": 1, "end": 2}}}, "expected a list"},
		{"range item without end", obj{"date": obj{"range": []any{obj{"start": 1}}}}, "start and end must be numbers"},
		{"range item with another key", obj{"date": obj{"range": []any{obj{"start": 1, "end": 2, "stop": 3}}}}, "unknown key 'stop'"},
		{"negative ndays", obj{"date": obj{"gte_ndays": -1}}, "number of days"},
		{"severity as a string", obj{"severity": obj{"eq": "2"}}, "expected an integer"},
		{"severity as a fraction", obj{"severity": obj{"eq": 1.5}}, "expected an integer"},
		{"alertOpen as a number", obj{"alertOpen": obj{"eq": 1}}, "expected true or false"},
		{"id as a number", obj{"id": obj{"eq": 5}}, "expected a string"},
		{"entity.entity without id", obj{"entity.entity": obj{"eq": obj{"inst": 0}}}, "id must be a string"},
		{"filters not an object", []any{obj{"date": obj{"gte": 1}}}, "filters must be a JSON object"},
		{"filter not an object", obj{"severity": 2}, "must be an object of operators"},
		{"no operator", obj{"severity": obj{}}, "has no operator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkCASError(t, casList(t, f.s, tok, obj{"filters": tt.filters}), 400, tt.detail)
		})
	}
}

func TestCloudAppsParams(t *testing.T) {
	t.Parallel()
	f := cloudAppsFixture(t, Options{})
	f.s.CloudApps(tenantA).Generate(250, CloudAppsGenerate{From: f.clock.Now().Add(-time.Hour), To: f.clock.Now()})
	tok := f.casToken(t)
	tests := []struct {
		name                 string
		params               obj
		n                    int
		hasNext              bool
		detail               string // a 400 when set
		total, moreThanTotal any
	}{
		{name: "no parameters: default limit 100", params: obj{}, n: 100, hasNext: true},
		{name: "limit 500 is capped at 100", params: obj{"limit": 500}, n: 100, hasNext: true},
		{name: "limit 10", params: obj{"limit": 10}, n: 10, hasNext: true},
		{name: "limit 0 means none, so the cap", params: obj{"limit": 0}, n: 100, hasNext: true},
		{name: "limit as a string", params: obj{"limit": "7"}, n: 7, hasNext: true},
		{name: "limit null", params: obj{"limit": nil}, n: 100, hasNext: true},
		{name: "skip to the last page", params: obj{"skip": 200, "limit": 100}, n: 50, hasNext: false},
		{name: "skip to the exact end", params: obj{"skip": 150, "limit": 100}, n: 100, hasNext: false},
		{name: "skip past the end", params: obj{"skip": 1000}, n: 0, hasNext: false},
		{name: "unknown parameters are ignored", params: obj{"isScan": true, "sortfield": "date"}, n: 100, hasNext: true},
		{name: "negative limit", params: obj{"limit": -1}, detail: "limit must be an integer >= 0"},
		{name: "fractional limit", params: obj{"limit": 2.5}, detail: "limit must be an integer"},
		{name: "negative skip", params: obj{"skip": -5}, detail: "skip must be an integer >= 0"},
		{name: "skip as a boolean", params: obj{"skip": true}, detail: "skip must be"},
		{name: "unknown sortField", params: obj{"sortField": "lastUpdateTime"}, detail: "sortField must be 'date'"},
		{name: "sortField in capitals", params: obj{"sortField": "Date"}, detail: "sortField"},
		{name: "unknown sortDirection", params: obj{"sortField": "date", "sortDirection": "ascending"}, detail: "sortDirection must be 'asc' or 'desc'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := casList(t, f.s, tok, tt.params)
			if tt.detail != "" {
				checkCASError(t, a, 400, tt.detail)
				return
			}
			if a.status != 200 || len(a.data()) != tt.n || a.body["hasNext"] != tt.hasNext {
				t.Fatalf("%d alerts, hasNext %v: %v", len(a.data()), a.body["hasNext"], a)
			}
			if k := jsonKeys(t, a.raw); !slices.Equal(k, []string{"data", "hasNext", "max", "total", "moreThanTotal"}) {
				t.Errorf("keys %v", k)
			}
			if a.body["max"] != float64(tt.n) || a.body["total"] != float64(250) || a.body["moreThanTotal"] != false {
				t.Errorf("max %v, total %v, moreThanTotal %v", a.body["max"], a.body["total"], a.body["moreThanTotal"])
			}
		})
	}

	t.Run("skip pages fit together", func(t *testing.T) {
		t.Parallel()
		var paged []string
		for skip := 0; skip < 250; skip += 100 {
			a := casList(t, f.s, tok, obj{"skip": skip, "limit": 500})
			paged = append(paged, a.ids()...)
		}
		if len(paged) != 250 || len(slices.Compact(slices.Sorted(slices.Values(paged)))) != 250 {
			t.Errorf("%d ids, not 250 distinct ones", len(paged))
		}
	})

	t.Run("total stops counting", func(t *testing.T) {
		t.Parallel()
		f := cloudAppsFixture(t, Options{})
		f.s.cloudApps.SetCountCap(40)
		f.s.CloudApps(tenantA).Generate(41, CloudAppsGenerate{})
		tok := f.casToken(t)
		for _, tt := range []struct {
			filters       any
			total         float64
			moreThanTotal bool
		}{
			{nil, 40, true},
			{obj{"id": obj{"neq": f.s.CloudApps(tenantA).Versions()[0].ID}}, 40, false},
		} {
			a := casList(t, f.s, tok, obj{"filters": tt.filters, "limit": 10})
			if a.body["total"] != tt.total || a.body["moreThanTotal"] != tt.moreThanTotal || a.body["hasNext"] != true {
				t.Errorf("%v: %v", tt.filters, a)
			}
		}
	})
}

func TestCloudAppsSort(t *testing.T) {
	t.Parallel()
	f := cloudAppsFixture(t, Options{})
	tn := f.s.CloudApps(tenantA)
	now := f.clock.Now()
	tn.Generate(150, CloudAppsGenerate{From: now.Add(-time.Hour), To: now})
	tn.Generate(60, CloudAppsGenerate{From: now.Add(-30 * time.Minute), SameTimestamp: true})
	tok := f.casToken(t)

	all := func(params obj) []map[string]any {
		t.Helper()
		var out []map[string]any
		for skip := 0; ; skip += 100 {
			params["skip"] = skip
			a := casList(t, f.s, tok, params)
			if a.status != 200 {
				t.Fatalf("%v", a)
			}
			out = append(out, a.data()...)
			if a.body["hasNext"] != true {
				return out
			}
		}
	}
	tests := []struct {
		field, dir, key string
		desc            bool
	}{
		{"date", "asc", "timestamp", false},
		{"date", "desc", "timestamp", true},
		{"date", "", "timestamp", true}, // no direction: descending
		{"severity", "asc", "severityValue", false},
		{"severity", "desc", "severityValue", true},
	}
	for _, tt := range tests {
		t.Run(tt.field+" "+tt.dir, func(t *testing.T) {
			t.Parallel()
			params := obj{"sortField": tt.field}
			if tt.dir != "" {
				params["sortDirection"] = tt.dir
			}
			got := all(params)
			if len(got) != 210 {
				t.Fatalf("%d alerts", len(got))
			}
			ids := map[string]bool{}
			for i, v := range got {
				ids[v["_id"].(string)] = true
				if i == 0 {
					continue
				}
				prev, cur := got[i-1][tt.key].(float64), v[tt.key].(float64)
				if tt.desc && cur > prev || !tt.desc && cur < prev {
					t.Fatalf("alert %d: %s %v after %v", i, tt.key, cur, prev)
				}
			}
			if len(ids) != 210 {
				t.Errorf("%d distinct alerts over the pages", len(ids))
			}
		})
	}

	t.Run("equal timestamps are not in id order", func(t *testing.T) {
		t.Parallel()
		var same []string
		for _, v := range all(obj{"sortField": "date", "sortDirection": "asc", "filters": obj{"date": obj{"gte": now.Add(-30 * time.Minute).UnixMilli(), "lte": now.Add(-30 * time.Minute).UnixMilli()}}}) {
			same = append(same, v["_id"].(string))
		}
		if len(same) < 60 || slices.IsSorted(same) || slices.IsSortedFunc(same, func(a, b string) int { return strings.Compare(b, a) }) {
			t.Errorf("%d alerts of one timestamp, sorted by id: %v", len(same), slices.IsSorted(same))
		}
	})

	t.Run("no sortField: an order the client must not depend on", func(t *testing.T) {
		t.Parallel()
		first := casList(t, f.s, tok, obj{"sortDirection": "asc", "limit": 100})
		var ts []float64
		for _, v := range first.data() {
			ts = append(ts, v["timestamp"].(float64))
		}
		if slices.IsSorted(ts) || slices.IsSorted(first.ids()) {
			t.Error("unsorted answer is in timestamp or id order")
		}
		if again := casList(t, f.s, tok, obj{"limit": 100}); !slices.Equal(again.ids(), first.ids()) {
			t.Error("the order changes between requests over an unchanged set")
		}
	})
}

func TestCloudAppsEncodings(t *testing.T) {
	t.Parallel()
	f, tok, t0 := casSet(t)
	s := f.s
	filters := fmt.Sprintf(`{"date":{"gte":%d},"alertOpen":{"eq":false}}`, t0.Add(time.Hour).UnixMilli())
	jsonBody := `{"filters":` + filters + `,"limit":2,"sortField":"date","sortDirection":"asc"}`
	form := url.Values{"filters": {filters}, "limit": {"2"}, "sortField": {"date"}, "sortDirection": {"asc"}}
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	for k, v := range form {
		_ = mw.WriteField(k, v[0])
	}
	_ = mw.Close()
	bearer := "Bearer " + tok
	tests := []struct {
		name, method, path, contentType, body string
		status                                int
		want                                  string // the alerts' digits, or the detail of an error
	}{
		{"POST JSON", "POST", casAlerts, "application/json", jsonBody, 200, "23"},
		{"POST JSON with charset", "POST", casAlerts, "application/json; charset=utf-8", jsonBody, 200, "23"},
		{"GET with a JSON body", "GET", casAlerts, "application/json", jsonBody, 200, "23"},
		{"POST form", "POST", casAlerts, "application/x-www-form-urlencoded", form.Encode(), 200, "23"},
		{"POST JSON as form, as curl -d sends it", "POST", casAlerts, "application/x-www-form-urlencoded", jsonBody, 200, "23"},
		{"POST multipart form data", "POST", casAlerts, mw.FormDataContentType(), mp.String(), 200, "23"},
		{"GET query string", "GET", casAlerts + "?" + form.Encode(), "", "", 200, "23"},
		{"the body overrides the query", "POST", casAlerts + "?limit=1&sortDirection=desc", "application/json", jsonBody, 200, "23"},
		{"query and body combine", "POST", casAlerts + "?limit=1", "application/json", `{"filters":` + filters + `,"sortField":"date","sortDirection":"asc"}`, 200, "2"},
		{"empty JSON body", "POST", casAlerts, "application/json", "", 200, "12345"},
		{"body without Content-Type", "POST", casAlerts, "", jsonBody, 415, `Unsupported media type ""`},
		{"text/plain body", "POST", casAlerts, "text/plain", jsonBody, 415, `Unsupported media type "text/plain"`},
		{"invalid JSON", "POST", casAlerts, "application/json", `{"limit":`, 400, "JSON parse error"},
		{"JSON after JSON", "POST", casAlerts, "application/json", `{"limit":1}{}`, 400, "JSON parse error"},
		{"a JSON list", "POST", casAlerts, "application/json", `[1]`, 400, "must be a JSON object of parameters"},
		{"filters in a form are not JSON", "POST", casAlerts, "application/x-www-form-urlencoded", "filters=severity%3D2", 400, "filters is not valid JSON"},
		{"PUT", "PUT", casAlerts, "application/json", jsonBody, 405, `Method "PUT" not allowed.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := casRequest(t, s.Client(), s, tt.method, tt.path, bearer, tt.contentType, tt.body)
			if tt.status != 200 {
				checkCASError(t, a, tt.status, tt.want)
				return
			}
			if got := a.digits(); a.status != 200 || got != tt.want {
				t.Errorf("got %q, want %q: %v", got, tt.want, a)
			}
		})
	}

	t.Run("HEAD", func(t *testing.T) {
		t.Parallel()
		if a := casRequest(t, s.Client(), s, "HEAD", casAlerts, bearer, "", ""); a.status != 200 || len(a.raw) != 0 {
			t.Errorf("%v", a)
		}
	})

	t.Run("without the trailing slash: a redirect that loses a POST's body", func(t *testing.T) {
		t.Parallel()
		noRedirect := s.Client()
		noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		a := casRequest(t, noRedirect, s, "POST", "/api/v1/alerts?x=1", "", "application/json", jsonBody)
		if a.status != 301 || a.header.Get("Location") != "/api/v1/alerts/?x=1" {
			t.Fatalf("%v %v", a, a.header)
		}
		// A client that follows it sends a GET without the body and gets
		// the unfiltered first page.
		a = casRequest(t, s.Client(), s, "POST", "/api/v1/alerts", bearer, "application/json", jsonBody)
		if a.status != 200 || len(a.data()) != 5 {
			t.Errorf("followed redirect: %v", a)
		}
	})
}

func TestCloudAppsLateIndexing(t *testing.T) {
	t.Parallel()
	f := cloudAppsFixture(t, Options{})
	tn := f.s.CloudApps(tenantA)
	tok := f.casToken(t)
	now := f.clock.Now().Truncate(time.Millisecond)
	tn.Put(CloudAppsAlert{ID: "b00000000000000000000001", Timestamp: now.Add(-time.Second), Title: "put"}, now.Add(10*time.Second))
	ids := tn.Generate(3, CloudAppsGenerate{VisibleAfter: 5 * time.Second})

	state := func() map[string]string {
		t.Helper()
		m := map[string]string{}
		for _, v := range casList(t, f.s, tok, obj{}).data() {
			m[v["_id"].(string)] = fmt.Sprintf("%v/%v", v["resolutionStatusValue"], v["statusValue"])
		}
		return m
	}
	if got := state(); len(got) != 0 {
		t.Fatalf("visible before VisibleAt: %v", got)
	}
	f.clock.Advance(5 * time.Second)
	if got := state(); len(got) != 3 {
		t.Fatalf("at +5s want the 3 generated alerts, got %v", got)
	}
	f.clock.Advance(5 * time.Second)
	if got := state(); got["b00000000000000000000001"] != "0/0" {
		t.Fatalf("at VisibleAt: %v", got)
	}

	// Closing is a new version, indexed late: the open one is served
	// meanwhile, and resolutionDate does not find it yet. A dismissal
	// archives the alert.
	id := "b00000000000000000000001"
	if err := tn.Close(id, 1, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	closedSince := obj{"filters": obj{"resolutionDate": obj{"gte": now.UnixMilli()}}}
	if got := state(); got[id] != "0/0" || len(casList(t, f.s, tok, closedSince).data()) != 0 {
		t.Errorf("right after closing: %v", got)
	}
	latest, _ := tn.Latest(id)
	if latest.ResolutionStatusValue != 1 || latest.ResolveTime == nil || !latest.ResolveTime.Equal(f.clock.Now()) ||
		latest.StatusValue != 2 || latest.HandledByUser == nil || latest.Comment == nil {
		t.Errorf("Latest after Close: %+v", latest)
	}
	// Marking it read meanwhile does not reveal the pending close early.
	if err := tn.MarkRead(id); err != nil {
		t.Fatal(err)
	}
	if got := state(); got[id] != "0/0" {
		t.Errorf("read mark revealed the close early: %v", got)
	}
	f.clock.Advance(30 * time.Second)
	if got := state(); got[id] != "1/1" {
		t.Errorf("after the delay: %v", got)
	}
	if a := casList(t, f.s, tok, closedSince); !slices.Equal(a.ids(), []string{id}) {
		t.Errorf("resolutionDate: %v", a)
	}

	// Marking read changes the body at once, but is not a version.
	unread := "b00000000000000000000003"
	tn.Put(CloudAppsAlert{ID: unread, Timestamp: now}, time.Time{})
	if err := tn.MarkRead(unread); err != nil {
		t.Fatal(err)
	}
	if got := state(); got[unread] != "0/1" {
		t.Errorf("MarkRead not served at once: %v", got[unread])
	}
	if err := tn.MarkRead(unread); err != nil {
		t.Fatal(err)
	}
	versions := map[string][]CloudAppsVersion{}
	for _, v := range tn.Versions() {
		versions[v.ID] = append(versions[v.ID], v)
	}
	if vs := versions[id]; len(vs) != 2 || !vs[0].Version.Equal(now.Add(-time.Second)) || !vs[1].Version.Equal(*latest.ResolveTime) ||
		vs[1].ResolutionStatus != 1 || !vs[1].VisibleAt.Equal(latest.ResolveTime.Add(30*time.Second)) {
		t.Errorf("versions of the closed alert: %+v", vs)
	}
	if vs := versions[unread]; len(vs) != 1 || !vs[0].Version.Equal(now) {
		t.Errorf("a read mark made a version: %+v", vs)
	}
	for _, id := range ids {
		if vs := versions[id]; len(vs) != 1 || !vs[0].VisibleAt.Equal(vs[0].Version.Add(5*time.Second)) {
			t.Errorf("generated: %+v", vs)
		}
	}

	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name string
			err  error
		}{
			{"unknown id", tn.Close("nope", 2, 0)},
			{"already closed", tn.Close(id, 2, 0)},
			{"resolution 0", tn.Close(ids[1], 0, 0)},
			{"resolution 6", tn.Close(ids[1], 6, 0)},
			{"mark an unknown id read", tn.MarkRead("nope")},
		}
		for _, tt := range tests {
			if tt.err == nil {
				t.Errorf("%s: no error", tt.name)
			}
		}
	})

	t.Run("closed in the millisecond it was raised", func(t *testing.T) {
		tn.Put(CloudAppsAlert{ID: "b00000000000000000000002", Timestamp: f.clock.Now()}, time.Time{})
		if err := tn.Close("b00000000000000000000002", 3, 0); err != nil {
			t.Fatal(err)
		}
		a, _ := tn.Latest("b00000000000000000000002")
		if d := a.ResolveTime.Sub(a.Timestamp); d != time.Millisecond {
			t.Errorf("resolveTime %v after timestamp, want 1ms", d)
		}
	})
}

func TestCloudAppsRateLimit(t *testing.T) {
	t.Parallel()
	f := cloudAppsFixture(t, Options{RateLimits: map[string]RateLimits{APICloudApps: LimitTo(RateLimit{Requests: 3, Per: time.Hour})}})
	s := f.s
	s.Grant(tenantB, appA, cas, "Investigation.read")
	tokA, tokB := f.casToken(t), tokenFor(t, s, tenantB, appA, secretA, cas)
	noRole := tokenFor(t, s, tenantA, appNoRole, "none", cas)

	// Refused authentication and authorization do not count.
	casList(t, s, "bad", obj{})
	casList(t, s, noRole, obj{})
	for i := range 3 {
		if a := casList(t, s, tokA, obj{}); a.status != 200 {
			t.Fatalf("request %d: %v", i+1, a)
		}
	}
	tests := []struct {
		name       string
		retryAfter bool
		header     string
		detail     string
	}{
		{"without Retry-After (the default)", false, "", "Request was throttled."},
		{"with Retry-After", true, "3600", "Request was throttled. Expected available in 3600 seconds."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.SetCloudAppsRetryAfter(tt.retryAfter)
			a := casList(t, s, tokA, obj{})
			checkCASError(t, a, 429, tt.detail)
			if _, sent := a.header["Retry-After"]; a.header.Get("Retry-After") != tt.header || sent != (tt.header != "") {
				t.Errorf("Retry-After %q, want %q", a.header.Get("Retry-After"), tt.header)
			}
		})
	}
	s.SetCloudAppsRetryAfter(false)
	if b := casList(t, s, tokB, obj{}); b.status != 200 {
		t.Errorf("tenant B throttled by tenant A's calls: %v", b)
	}
	// A throttled request is refused before its parameters are read.
	if b := casList(t, s, tokA, obj{"limit": -1}); b.status != 429 {
		t.Errorf("throttled request with a bad parameter: %v", b)
	}

	t.Run("the window slides over real time", func(t *testing.T) {
		const window = 200 * time.Millisecond
		s.SetRateLimits(APICloudApps, LimitTo(RateLimit{Requests: 1, Per: window}))
		// Wait out the real-time window (the only sleeps of this test are
		// the time the limit is about).
		lastEnd := time.Now()
		time.Sleep(window + 20*time.Millisecond)
		for attempt := 0; ; attempt++ {
			start := time.Now()
			if a := casList(t, s, tokA, obj{}); a.status != 200 {
				t.Fatalf("first call of a window: %v", a)
			}
			a := casList(t, s, tokA, obj{})
			lastEnd = time.Now()
			if a.status == 429 {
				break
			}
			if time.Since(start) < window || attempt == 5 {
				t.Fatalf("second call within the window: %v", a)
			}
			time.Sleep(time.Until(lastEnd.Add(window + 20*time.Millisecond)))
		}
		time.Sleep(time.Until(lastEnd.Add(window + 20*time.Millisecond)))
		if a := casList(t, s, tokA, obj{}); a.status != 200 {
			t.Fatalf("after the window: %v", a)
		}
	})

	t.Run("documented limit: 30 a minute", func(t *testing.T) {
		if got := DocumentedRateLimits(APICloudApps); !reflect.DeepEqual(got, []RateLimit{{Requests: 30, Per: time.Minute}}) {
			t.Errorf("%v", got)
		}
		f := newFixture(t, Options{}) // no RateLimits: the documented one
		f.s.Grant(tenantA, appA, cas, "Investigation.read")
		tok := f.casToken(t)
		for i := range 30 {
			if a := casList(t, f.s, tok, obj{}); a.status != 200 {
				t.Fatalf("request %d: %v", i+1, a)
			}
		}
		checkCASError(t, casList(t, f.s, tok, obj{}), 429, "throttled")
	})

	t.Run("NoRateLimits lifts the limit", func(t *testing.T) {
		s.SetRateLimits(APICloudApps, NoRateLimits())
		for range 5 {
			if a := casList(t, s, tokA, obj{}); a.status != 200 {
				t.Fatalf("%v", a)
			}
		}
	})

	t.Run("invalid limits", func(t *testing.T) {
		if _, err := Start(Options{RateLimits: map[string]RateLimits{APICloudApps: LimitTo(RateLimit{Requests: 1, Per: 0})}}); err == nil {
			t.Error("Start accepted a zero window")
		}
		defer func() {
			if recover() == nil {
				t.Error("SetRateLimits accepted 0 requests")
			}
		}()
		s.SetRateLimits(APICloudApps, LimitTo(RateLimit{Per: time.Second}))
	})
}

func TestCloudAppsFaults(t *testing.T) {
	t.Parallel()
	f := cloudAppsFixture(t, Options{})
	s := f.s
	tn := s.CloudApps(tenantA)
	tn.Generate(20, CloudAppsGenerate{})
	tok := f.casToken(t)

	raw := func(c *http.Client) (int, http.Header, []byte, error) {
		req, _ := http.NewRequest(http.MethodPost, s.URL()+casAlerts, strings.NewReader(`{"limit":50}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			return 0, nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b, err
	}
	tests := []struct {
		name   string
		fault  APIFault
		status int
		retry  string
		check  func(t *testing.T, h http.Header, body []byte, err error)
	}{
		{name: "500 is an HTML page", fault: APIFault{Status: 500}, status: 500, check: func(t *testing.T, h http.Header, body []byte, _ error) {
			if !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !bytes.Contains(body, []byte("Server Error (500)")) {
				t.Errorf("%s %s", h.Get("Content-Type"), body)
			}
		}},
		{name: "503 with Retry-After rounded up", fault: APIFault{Status: 503, RetryAfter: 1500 * time.Millisecond}, status: 503, retry: "2"},
		{name: "429 says throttled", fault: APIFault{Status: 429}, status: 429, check: bodyHas("Request was throttled.")},
		{name: "429 with Retry-After", fault: APIFault{Status: 429, RetryAfter: 30 * time.Second}, status: 429, retry: "30", check: bodyHas("throttled")},
		{name: "Throttled alone is a 429", fault: APIFault{Throttled: true}, status: 429, check: bodyHas("throttled")},
		{name: "403 that says throttled", fault: APIFault{Status: 403, Throttled: true}, status: 403, check: bodyHas("throttled")},
		{name: "400", fault: APIFault{Status: 400}, status: 400, check: bodyHas(`"detail"`)},
		{name: "drop", fault: APIFault{Drop: true}, check: func(t *testing.T, _ http.Header, _ []byte, err error) {
			if err == nil {
				t.Error("no error from a dropped connection")
			}
		}},
		{name: "truncate", fault: APIFault{Truncate: true}, status: 200, check: func(t *testing.T, _ http.Header, body []byte, err error) {
			if err == nil || !bytes.HasPrefix(body, []byte(`{"data":[{"_id":`)) {
				t.Errorf("err %v, body %.80s", err, body)
			}
		}},
		{name: "invalid JSON", fault: APIFault{InvalidJSON: true}, status: 200, check: func(t *testing.T, _ http.Header, body []byte, err error) {
			var v any
			if err != nil || json.Unmarshal(body, &v) == nil || !bytes.HasSuffix(body, []byte("}")) {
				t.Errorf("err %v; body decodes: %v", err, json.Unmarshal(body, &v) == nil)
			}
		}},
		{name: "delay, then the normal answer", fault: APIFault{Delay: 100 * time.Millisecond}, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn.Fail(1, tt.fault)
			start := time.Now()
			status, h, body, err := raw(http1Client(s))
			if tt.check != nil {
				tt.check(t, h, body, err)
			} else if err != nil {
				t.Fatal(err)
			}
			if tt.status != 0 && status != tt.status {
				t.Errorf("status %d, want %d", status, tt.status)
			}
			if status != 0 && h.Get("Retry-After") != tt.retry {
				t.Errorf("Retry-After %q, want %q", h.Get("Retry-After"), tt.retry)
			}
			if time.Since(start) < tt.fault.Delay {
				t.Errorf("answered before the delay")
			}
			if a := casList(t, s, tok, obj{}); a.status != 200 || len(a.data()) != 20 {
				t.Errorf("the fault was not used up: %v", a)
			}
		})
	}

	t.Run("delay, the client gives up", func(t *testing.T) {
		tn.Fail(1, APIFault{Delay: time.Hour})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+casAlerts, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if _, err := s.Client().Do(req); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err %v, want the client's deadline", err)
		}
	})

	t.Run("faults queue in order and come after authentication", func(t *testing.T) {
		tn.Fail(2, APIFault{Status: 503})
		tn.Fail(1, APIFault{Status: 500})
		if a := casList(t, s, "bad", obj{}); a.status != 401 {
			t.Fatalf("unauthenticated request: %v", a)
		}
		var got []int
		for range 4 {
			got = append(got, casList(t, s, tok, obj{}).status)
		}
		if want := []int{503, 503, 500, 200}; !slices.Equal(got, want) {
			t.Errorf("statuses %v, want %v", got, want)
		}
	})

	t.Run("fault rates", func(t *testing.T) {
		tests := []struct {
			rates      FaultRates
			retryAfter bool
			status     int
			header     string
		}{
			{FaultRates{ServerError: 1}, false, 500, ""},
			{FaultRates{Throttle: 1}, false, 429, ""},
			{FaultRates{Throttle: 1}, true, 429, "1"},
			{FaultRates{Slow: 1, SlowDelay: time.Millisecond}, false, 200, ""},
			{FaultRates{}, false, 200, ""},
		}
		for _, tt := range tests {
			s.SetCloudAppsRetryAfter(tt.retryAfter)
			tn.SetFaultRates(tt.rates)
			a := casList(t, s, tok, obj{})
			if a.status != tt.status || a.header.Get("Retry-After") != tt.header {
				t.Errorf("%+v, Retry-After %v: %v %v", tt.rates, tt.retryAfter, a, a.header)
			}
		}
		s.SetCloudAppsRetryAfter(false)
		tn.SetFaultRates(FaultRates{})
	})
}

func bodyHas(part string) func(t *testing.T, h http.Header, body []byte, err error) {
	return func(t *testing.T, _ http.Header, body []byte, err error) {
		t.Helper()
		if err != nil || !bytes.Contains(body, []byte(part)) {
			t.Errorf("err %v, body %s, want %q", err, body, part)
		}
	}
}

func TestCloudAppsAlertExample(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("testdata/cloudapps-alerts-example.json")
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Data []json.RawMessage }
	if err := json.Unmarshal(doc, &list); err != nil || len(list.Data) != 1 {
		t.Fatalf("example: %v", err)
	}
	var a CloudAppsAlert
	if err := json.Unmarshal(list.Data[0], &a); err != nil {
		t.Fatal(err)
	}
	if a.ID != "603f704aaf7417985bbf3b22" || len(a.Entities) != 8 || a.Entities[2].ID != "20940" || !a.Entities[2].NumericID ||
		a.Timestamp.UnixMilli() != 1621941916475 || a.ResolveTime == nil || a.ResolveTime.UnixMilli() != 1620914554904 {
		t.Fatalf("decoded %+v", a)
	}
	if !a.VersionTime().Equal(a.Timestamp) {
		t.Error("an open alert's version is not its timestamp, though it has a resolveTime")
	}
	out, err := a.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	_ = json.Unmarshal(list.Data[0], &want)
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip differs:\n%s", out)
	}
	if k, w := jsonKeys(t, out), jsonKeys(t, list.Data[0]); !slices.Equal(k, w) {
		t.Errorf("key order %v\nwant %v", k, w)
	}

	// Served by the API, the example is the documented answer, envelope
	// included.
	f := cloudAppsFixture(t, Options{})
	f.s.CloudApps(tenantA).Put(a, time.Time{})
	ans := casRequest(t, f.s.Client(), f.s, http.MethodPost, casAlerts, "Bearer "+f.casToken(t), "application/json",
		`{"filters":{"date":{"gte":1621941916475}},"skip":0,"limit":10}`)
	var docAny, servedAny any
	_ = json.Unmarshal(doc, &docAny)
	_ = json.Unmarshal(ans.raw, &servedAny)
	if !reflect.DeepEqual(servedAny, docAny) {
		t.Errorf("served %v", ans)
	}
	if k, w := jsonKeys(t, ans.raw), jsonKeys(t, doc); !slices.Equal(k, w) {
		t.Errorf("envelope keys %v, want %v", k, w)
	}
	if ct := ans.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}

	t.Run("entity ids", func(t *testing.T) {
		tests := []struct {
			e    CloudAppsEntity
			want string
			ok   bool
		}{
			{CloudAppsEntity{ID: "20940", NumericID: true, Label: "Active Directory", Type: "service"}, `{"id":20940,"label":"Active Directory","type":"service"}`, true},
			{CloudAppsEntity{ID: "20940", Label: "x", Type: "user"}, `{"id":"20940","label":"x","type":"user"}`, true},
			{CloudAppsEntity{ID: "abc", NumericID: true, Type: "service"}, "", false},
		}
		for _, tt := range tests {
			b, err := json.Marshal(tt.e)
			if (err == nil) != tt.ok || tt.ok && string(b) != tt.want {
				t.Errorf("%+v: %s, %v", tt.e, b, err)
			}
		}
	})
}

var (
	casObjectIDPattern = regexp.MustCompile(`^[0-9a-f]{24}$`)
	casURLPattern      = regexp.MustCompile(`^https://([a-z0-9-]+)\.portal\.cloudappsecurity\.com/#/alerts/([0-9a-f]{24})$`)
)

func TestCloudAppsGenerator(t *testing.T) {
	t.Parallel()
	const n = 400
	f := cloudAppsFixture(t, Options{})
	f.s.AddTenantDomain(tenantA, "contoso.onmicrosoft.com")
	tn := f.s.CloudApps(tenantA)
	now := f.clock.Now()
	from := now.Add(-24 * time.Hour)
	ids := tn.Generate(n, CloudAppsGenerate{From: from, To: now})
	if len(ids) != n || tn.Len() != n {
		t.Fatalf("%d ids, Len %d", len(ids), tn.Len())
	}
	tok := f.casToken(t)
	var vals []map[string]any
	for skip := 0; skip < n; skip += 100 {
		vals = append(vals, casList(t, f.s, tok, obj{"skip": skip, "sortField": "date", "sortDirection": "asc"}).data()...)
	}
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
	var text strings.Builder
	idValues := map[float64]bool{}
	for _, v := range vals {
		id := v["_id"].(string)
		if !casObjectIDPattern.MatchString(id) {
			t.Fatalf("_id %q", id)
		}
		if m := casURLPattern.FindStringSubmatch(v["URL"].(string)); m == nil || m[1] != "contoso" || m[2] != id {
			t.Errorf("%s: URL %v", id, v["URL"])
		}
		if v["contextId"] != tenantA {
			t.Errorf("%s: contextId %v", id, v["contextId"])
		}
		ts := time.UnixMilli(int64(v["timestamp"].(float64)))
		if ts.Before(from.Truncate(time.Millisecond)) || ts.After(now) {
			t.Errorf("%s: timestamp %v outside [From, To]", id, ts)
		}
		idValues[v["idValue"].(float64)] = true
		res := v["resolutionStatusValue"].(float64)
		rt, hasRT := v["resolveTime"].(string)
		if (res != 0) != hasRT {
			t.Errorf("%s: resolutionStatusValue %v with resolveTime %q", id, res, rt)
		}
		if hasRT {
			r, err := time.Parse(time.RFC3339Nano, rt)
			if err != nil || len(rt) != len("2021-05-13T14:02:34.904Z") || !r.After(ts) || r.After(now) {
				t.Errorf("%s: resolveTime %q, timestamp %v", id, rt, ts)
			}
		}
		for _, k := range []string{"severityValue", "statusValue", "resolutionStatusValue", "isSystemAlert", "isMarkdown", "isPreview"} {
			mark(k, v[k])
		}
		for _, k := range []string{"intent", "evidence", "isMarkdown", "isPreview", "threatScore", "audits", "policy", "comment", "handledByUser"} {
			_, ok := v[k]
			mark(k+" present", ok)
		}
		mark("handledByUser", v["handledByUser"] == "null")
		for _, s := range v["stories"].([]any) {
			mark("stories", s)
		}
		if intent, ok := v["intent"].([]any); ok {
			for _, i := range intent {
				mark("intent", i)
			}
		}
		for _, e := range v["entities"].([]any) {
			ent := e.(map[string]any)
			mark("entity type", ent["type"])
			switch ent["type"] {
			case "service":
				if _, ok := ent["id"].(float64); !ok {
					t.Errorf("%s: service id %v is not a number", id, ent["id"])
				}
			case "account":
				if ent["pa"] == nil || ent["entityType"] == nil || ent["inst"] == nil {
					t.Errorf("%s: account %v", id, ent)
				}
				_, withRole := ent["entityRole"]
				mark("account with entityRole", withRole)
			case "policyRule":
				mark("policyType", ent["policyType"])
			case "device":
				mark("device role", ent["entityRole"])
			}
		}
		text.WriteString(v["title"].(string) + "\n" + v["description"].(string) + "\n")
	}
	if len(idValues) != n {
		t.Errorf("%d distinct idValues", len(idValues))
	}
	want := map[string][]string{
		"severityValue":           {"0", "1", "2", "3"},
		"statusValue":             {"0", "1", "2"},
		"resolutionStatusValue":   {"0", "1", "2", "3", "4", "5"},
		"stories":                 {"0", "1", "2", "3", "4", "5", "7", "8"},
		"intent":                  {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13"},
		"entity type":             cloudapps.DocumentedEntityTypes(),
		"policyType":              {"ANOMALY_DETECTION", "FILE", "NEW_SERVICE", "SESSION", "AUDIT"},
		"device role":             {"Source", "Related"},
		"isSystemAlert":           {"true", "false"},
		"isMarkdown":              {"true", "false", "<nil>"},
		"isPreview":               {"true", "false", "<nil>"},
		"account with entityRole": {"true", "false"},
		"handledByUser":           {"true", "false"},
		"intent present":          {"true", "false"},
		"evidence present":        {"true", "false"},
		"isMarkdown present":      {"true", "false"},
		"isPreview present":       {"true", "false"},
		"threatScore present":     {"true", "false"},
		"audits present":          {"true", "false"},
		"policy present":          {"true", "false"},
		"comment present":         {"true", "false"},
		"handledByUser present":   {"true", "false"},
	}
	for field, values := range want {
		for _, v := range values {
			if !seen[field][v] {
				t.Errorf("%s %q never generated in %d alerts", field, v, n)
			}
		}
	}
	all := text.String()
	for name, s := range map[string]string{"German": "ü", "Japanese": "機密", "Arabic": "مشاركة", "emoji": "🚨", "combining accent": "\u0301",
		"quote": `"`, "<": "<", "&": "&", "markup": "__siteIcon__", "markdown": "**"} {
		if !strings.Contains(all, s) {
			t.Errorf("no %s (%q) in titles and descriptions", name, s)
		}
	}

	t.Run("non-ASCII is escaped on the wire", func(t *testing.T) {
		raw := casList(t, f.s, tok, obj{"limit": 100}).raw
		for _, b := range raw {
			if b >= 0x80 {
				t.Fatal("a raw non-ASCII byte in the answer")
			}
		}
		if !bytes.Contains(raw, []byte(`\u`)) {
			t.Error("no \\u escape in 100 alerts")
		}
	})

	t.Run("closed alerts are versioned by resolveTime", func(t *testing.T) {
		for _, v := range tn.Versions() {
			a, _ := tn.Latest(v.ID)
			if a.ResolutionStatusValue != v.ResolutionStatus || (a.ResolveTime != nil) != (v.ResolutionStatus != 0) ||
				a.ResolveTime != nil && !v.Version.Equal(*a.ResolveTime) || a.ResolveTime == nil && !v.Version.Equal(a.Timestamp) {
				t.Fatalf("%+v for %+v", v, a)
			}
		}
	})
}

func TestCloudAppsGeneratorSeeded(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	gen := func(seed int64, tenant string) []CloudAppsAlert {
		t.Helper()
		s := startServer(t, Options{Seed: seed})
		tn := s.CloudApps(tenant)
		var out []CloudAppsAlert
		for _, id := range tn.Generate(30, CloudAppsGenerate{From: from, To: from.Add(time.Hour)}) {
			a, _ := tn.Latest(id)
			a.ContextID, a.URL = "", "" // as given to CloudApps
			out = append(out, a)
		}
		return out
	}
	a, b := gen(0, tenantA), gen(0, strings.ToUpper(tenantA))
	if !reflect.DeepEqual(a, b) {
		t.Error("same seed and tenant, different alerts")
	}
	if c := gen(0, tenantB); a[0].ID == c[0].ID {
		t.Error("another tenant draws the same alerts")
	}
	if c := gen(42, tenantA); a[0].ID == c[0].ID {
		t.Error("another seed draws the same alerts")
	}

	t.Run("same timestamp", func(t *testing.T) {
		s := startServer(t, Options{})
		tn := s.CloudApps(tenantA)
		ids := tn.Generate(250, CloudAppsGenerate{From: from.Add(123456789 * time.Nanosecond), SameTimestamp: true, VisibleAfter: time.Minute})
		distinct := map[string]bool{}
		want := from.Add(124 * time.Millisecond) // From, rounded up to the millisecond
		for _, id := range ids {
			l, _ := tn.Latest(id)
			if !l.Timestamp.Equal(want) || l.ResolutionStatusValue != 0 {
				t.Fatalf("%s: timestamp %v, resolution %d", id, l.Timestamp, l.ResolutionStatusValue)
			}
			distinct[id] = true
		}
		if len(distinct) != 250 {
			t.Errorf("%d distinct ids of 250", len(distinct))
		}
		for _, v := range tn.Versions() {
			if !v.VisibleAt.Equal(want.Add(time.Minute)) {
				t.Fatalf("VisibleAt %v", v.VisibleAt)
			}
		}
	})

	t.Run("CloseRandom", func(t *testing.T) {
		s := startServer(t, Options{Now: func() time.Time { return from.Add(2 * time.Hour) }})
		tn := s.CloudApps(tenantA)
		tn.Generate(100, CloudAppsGenerate{From: from, To: from.Add(time.Hour)})
		open := 0
		for _, v := range tn.Versions() {
			if v.ResolutionStatus == 0 {
				open++
			}
		}
		closed := tn.CloseRandom(30, time.Second)
		statuses := map[int]bool{}
		for _, id := range closed {
			a, _ := tn.Latest(id)
			statuses[a.ResolutionStatusValue] = true
			if a.ResolveTime == nil || !a.ResolveTime.Equal(from.Add(2*time.Hour)) {
				t.Errorf("%s: resolveTime %v", id, a.ResolveTime)
			}
		}
		if len(closed) != 30 || len(slices.Compact(slices.Sorted(slices.Values(closed)))) != 30 || len(statuses) < 4 {
			t.Errorf("closed %d, statuses %v", len(closed), statuses)
		}
		if rest := tn.CloseRandom(1000, 0); len(rest) != open-30 {
			t.Errorf("closed the remaining %d of %d open", len(rest), open-30)
		}
		if none := tn.CloseRandom(5, 0); none != nil {
			t.Errorf("closed %v with none open", none)
		}
	})
}

func TestCloudAppsAPIRequests(t *testing.T) {
	t.Parallel()
	f := cloudAppsFixture(t, Options{})
	f.s.CloudApps(tenantA).Generate(3, CloudAppsGenerate{})
	tok := f.casToken(t)
	noRedirect := f.s.Client()
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	casRequest(t, f.s.Client(), f.s, "GET", casAlerts, "", "", "")
	casRequest(t, f.s.Client(), f.s, "POST", casAlerts+"?limit=2", "Bearer "+tok, "application/json", `{"sortField":"date"}`)
	casList(t, f.s, tok, obj{"limit": -1})
	casRequest(t, noRedirect, f.s, "POST", "/api/v1/alerts", "Bearer "+tok, "application/json", `{}`)
	log := f.s.APIRequests()
	for i := range log {
		// Done and the token's uti vary; check them here, compare the rest.
		if log[i].Time.IsZero() || log[i].Done.Before(log[i].Time) || (log[i].TokenID == "") != (log[i].AppID == "") {
			t.Errorf("entry %d: Time %v, Done %v, TokenID %q", i, log[i].Time, log[i].Done, log[i].TokenID)
		}
		log[i].Time, log[i].Done, log[i].TokenID = time.Time{}, time.Time{}, ""
	}
	want := []APIRequest{
		{API: "cloudapps", Path: casAlerts, Status: 401},
		{API: "cloudapps", TenantID: tenantA, AppID: appA, Path: casAlerts, Query: "limit=2", Status: 200, Results: 2, Body: `{"sortField":"date"}`},
		{API: "cloudapps", TenantID: tenantA, AppID: appA, Path: casAlerts, Status: 400, Body: `{"limit":-1}`},
		{API: "cloudapps", Path: "/api/v1/alerts", Status: 301, Body: `{}`},
	}
	if !reflect.DeepEqual(log, want) {
		t.Errorf("log\n%+v\nwant\n%+v", log, want)
	}
}

// TestCloudAppsConcurrent serves pages while the store changes (run with
// -race).
func TestCloudAppsConcurrent(t *testing.T) {
	t.Parallel()
	f := cloudAppsFixture(t, Options{})
	tn := f.s.CloudApps(tenantA)
	tn.Generate(100, CloudAppsGenerate{From: f.clock.Now().Add(-time.Hour), To: f.clock.Now()})
	tok := f.casToken(t)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 5 {
				a := casList(t, f.s, tok, obj{"skip": w*10 + i, "limit": 50, "sortField": "date", "filters": obj{"alertOpen": obj{"eq": i%2 == 0}}})
				if a.status != 200 {
					t.Errorf("%v", a)
					return
				}
				for _, raw := range a.body["data"].([]any) {
					b, _ := json.Marshal(raw)
					var x CloudAppsAlert
					if err := json.Unmarshal(b, &x); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 5 {
			ids := tn.Generate(10, CloudAppsGenerate{})
			tn.CloseRandom(5, 0)
			_ = tn.MarkRead(ids[i])
			tn.SetFaultRates(FaultRates{})
			tn.SetLegacyToken(fmt.Sprint("legacy", i))
			_ = tn.Versions()
			f.s.SetCloudAppsRetryAfter(i%2 == 0)
			f.clock.Advance(time.Second)
		}
	})
	wg.Wait()
}
