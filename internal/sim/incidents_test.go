package sim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertexport/alertexport/sources/apis"
)

const (
	incidentsPath = "/v1.0/security/incidents"
	appIncRW      = "617283a4-b5c6-4d7e-88f9-0a1b2c3d4e5f" // SecurityIncident.ReadWrite.All
)

// incidentsFixture is graphFixture (appGraphInc has SecurityIncident.Read.All,
// appGraphR only SecurityAlert.Read.All) with the incidents API unlimited
// unless opts says otherwise.
func incidentsFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	unlimited(&opts, APIIncidents)
	f := graphFixture(t, opts)
	f.s.RegisterApp(App{ClientID: appIncRW, Secrets: []Secret{{Value: "irw"}}})
	f.s.Grant(tenantA, appIncRW, graphRes, "SecurityIncident.ReadWrite.All")
	return f
}

func incidentsToken(t *testing.T, f *fixture) string {
	t.Helper()
	return tokenFor(t, f.s, tenantA, appGraphInc, "inc", graphRes)
}

func incidentsQuery(params ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		v.Set(params[i], params[i+1])
	}
	if len(v) == 0 {
		return incidentsPath
	}
	return incidentsPath + "?" + v.Encode()
}

// followIncidents reads every page from first on and returns the incidents
// in order and the number of pages.
func followIncidents(t *testing.T, s *Server, token, first string, hdr http.Header) ([]map[string]any, int) {
	t.Helper()
	var out []map[string]any
	next, pages := first, 0
	for next != "" {
		a := graphDo(t, s, http.MethodGet, token, next, hdr)
		if a.status != http.StatusOK {
			t.Fatalf("page %d: %v", pages, a)
		}
		pages++
		out = append(out, a.values()...)
		link, _ := a.body["@odata.nextLink"].(string)
		if link != "" && !strings.HasPrefix(link, s.URL()+incidentsPath+"?") {
			t.Fatalf("nextLink %q is not on the simulator's host", link)
		}
		next = link
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
	}
	return out, pages
}

func idsOf(values []map[string]any) []string {
	out := make([]string, 0, len(values))
	for _, v := range values {
		out = append(out, v["id"].(string))
	}
	return out
}

func TestIncidentsAuth(t *testing.T) {
	t.Parallel()
	f := incidentsFixture(t, Options{})
	s := f.s
	tests := []struct {
		name, token string
		status      int
		code, msg   string
	}{
		{"no token", "", 401, "InvalidAuthenticationToken", "Access token is empty."},
		{"MDE token", tokenFor(t, s, tenantA, appGraphR, "r", mde), 401, "InvalidAuthenticationToken", "Invalid audience."},
		{"SecurityAlert.Read.All only", tokenFor(t, s, tenantA, appGraphR, "r", graphRes), 403, "Forbidden",
			"Missing application roles. API required roles: SecurityIncident.Read.All,SecurityIncident.ReadWrite.All, application roles: SecurityAlert.Read.All."},
		{"no role", tokenFor(t, s, tenantA, appA, secretA, graphRes), 403, "Forbidden", "application roles: ."},
		{"SecurityIncident.Read.All", incidentsToken(t, f), 200, "", ""},
		{"SecurityIncident.ReadWrite.All", tokenFor(t, s, tenantA, appIncRW, "irw", graphRes), 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{incidentsPath, incidentsPath + "/2000001"} {
				a := graphGet(t, s, tt.token, path)
				switch {
				case tt.status != 200:
					checkGraphError(t, a, tt.status, tt.code, tt.msg)
				case path == incidentsPath && a.status != 200:
					t.Errorf("%s: %v", path, a)
				case path != incidentsPath && a.status != 404: // authorized, but no such incident
					t.Errorf("%s: %v", path, a)
				}
			}
		})
	}
}

func TestIncidentsRouting(t *testing.T) {
	t.Parallel()
	f := incidentsFixture(t, Options{})
	id := f.s.Incidents(tenantA).Generate(1, IncidentsGenerate{})[0]
	tok := incidentsToken(t, f)
	tests := []struct {
		name, method, path string
		status             int
		code, msg          string
	}{
		{"list", http.MethodGet, incidentsPath, 200, "", ""},
		{"trailing slash", http.MethodGet, incidentsPath + "/", 200, "", ""},
		{"segment case", http.MethodGet, "/v1.0/security/Incidents/" + id, 200, "", ""},
		{"get", http.MethodGet, incidentsPath + "/" + id, 200, "", ""},
		{"get with $expand", http.MethodGet, incidentsPath + "/" + id + "?$expand=alerts", 200, "", ""},
		{"unknown id", http.MethodGet, incidentsPath + "/1", 404, "itemNotFound", "'1'"},
		{"PATCH", http.MethodPatch, incidentsPath + "/" + id, 405, "BadRequest", "'PATCH' is not allowed"},
		{"navigation", http.MethodGet, incidentsPath + "/" + id + "/alerts", 501, "notSupported", "only List incidents"},
		{"$select", http.MethodGet, incidentsPath + "?$select=id", 400, "BadRequest", "'$select' is not supported"},
		{"$orderby", http.MethodGet, incidentsPath + "?$orderby=createdDateTime", 400, "BadRequest", "'$orderby' is not supported"},
		{"$top on get", http.MethodGet, incidentsPath + "/" + id + "?$top=1", 400, "BadRequest", "supports $expand"},
		{"$expand of another property", http.MethodGet, incidentsPath + "?$expand=evidence", 400, "BadRequest", "'evidence'"},
		{"nested $expand options", http.MethodGet, incidentsPath + "?$expand=alerts($select=id)", 400, "BadRequest", "Could not find"},
		{"$top=0", http.MethodGet, incidentsPath + "?$top=0", 400, "BadRequest", "$top"},
		{"$skip negative", http.MethodGet, incidentsPath + "?$skip=-1", 400, "BadRequest", "$skip"},
		{"forged skiptoken", http.MethodGet, incidentsPath + "?$skiptoken=AQIDBAUGBwgJCgsMDQ4PEBES", 400, "BadRequest", "$skiptoken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := graphDo(t, f.s, tt.method, tok, tt.path, nil)
			if tt.status == 200 {
				if a.status != 200 || a.header.Get("request-id") == "" {
					t.Fatalf("got %v", a)
				}
				return
			}
			checkGraphError(t, a, tt.status, tt.code, tt.msg)
		})
	}
	t.Run("alerts_v2 still answers beside", func(t *testing.T) {
		if a := graphGet(t, f.s, graphToken(t, f), alertsV2); a.status != 200 {
			t.Errorf("alerts_v2: %v", a)
		}
	})
	t.Run("get answers the entity", func(t *testing.T) {
		a := graphGet(t, f.s, tok, incidentsPath+"/"+id)
		if a.body["id"] != id || a.body["@odata.context"] != f.s.URL()+"/v1.0/$metadata#security/incidents/$entity" {
			t.Errorf("got %v", a)
		}
		if _, ok := a.body["alerts"]; ok {
			t.Error("alerts without $expand")
		}
	})
}

// wantIncidents is the oracle of a list: the incidents of ids whose newest
// version matches keep, newest createdDateTime first.
func wantIncidents(t *testing.T, inc *IncidentsTenant, keep func(Incident) bool) []string {
	t.Helper()
	type item struct {
		id      string
		created time.Time
	}
	var items []item
	for _, id := range inc.IDs() {
		i, _, _ := inc.Latest(id)
		if keep(i) {
			items = append(items, item{id, i.CreatedDateTime})
		}
	}
	slices.SortStableFunc(items, func(a, b item) int { return b.created.Compare(a.created) })
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, it.id)
	}
	return out
}

func TestIncidentsFilter(t *testing.T) {
	t.Parallel()
	f := incidentsFixture(t, Options{})
	inc := f.s.Incidents(tenantA)
	now := f.clock.Now()
	ids := inc.Generate(45, IncidentsGenerate{From: now.Add(-48 * time.Hour), To: now.Add(-time.Second)})
	// Only Defender Experts set awaitingAction: the generator draws it
	// rarely, so one is made here.
	if err := inc.Update(ids[0], func(i *Incident) { i.Status = "awaitingAction" }, 0); err != nil {
		t.Fatal(err)
	}
	tok := incidentsToken(t, f)
	cut := now.Add(-24 * time.Hour)
	cutText := cut.Format(time.RFC3339)
	sev := map[string]int{"unknown": 0, "informational": 1, "low": 2, "medium": 3, "high": 4}
	tests := []struct {
		name, filter string
		prefer       bool
		keep         func(Incident) bool
	}{
		{"none", "", false, func(Incident) bool { return true }},
		{"status", "status eq 'active'", false, func(i Incident) bool { return i.Status == "active" }},
		{"severity ordered", "severity ge 'medium'", false, func(i Incident) bool { return sev[i.Severity] >= 3 }},
		{"unassigned", "assignedTo eq null", false, func(i Incident) bool { return i.AssignedTo == nil }},
		{"lastUpdateDateTime", "lastUpdateDateTime ge " + cutText, false, func(i Incident) bool { return !i.LastUpdateDateTime.Before(cut) }},
		{"createdDateTime", "createdDateTime lt " + cutText, false, func(i Incident) bool { return i.CreatedDateTime.Before(cut) }},
		{"classification and determination", "classification eq 'truePositive' or determination ne 'unknown'", false,
			func(i Incident) bool { return i.Classification == "truePositive" || i.Determination != "unknown" }},
		{"awaitingAction reads unknownFutureValue without Prefer", "status eq 'unknownFutureValue'", false,
			func(i Incident) bool { return i.Status == "awaitingAction" }},
		{"awaitingAction with Prefer", "status eq 'awaitingAction'", true, func(i Incident) bool { return i.Status == "awaitingAction" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params := []string{"$top", "50"}
			if tt.filter != "" {
				params = append(params, "$filter", tt.filter)
			}
			var hdr http.Header
			if tt.prefer {
				hdr = preferUnknown
			}
			a := graphDo(t, f.s, http.MethodGet, tok, incidentsQuery(params...), hdr)
			if a.status != 200 {
				t.Fatalf("got %v", a)
			}
			got, want := idsOf(a.values()), wantIncidents(t, inc, tt.keep)
			if len(want) == 0 || len(want) == 45 && tt.filter != "" {
				t.Fatalf("filter %q keeps %d of 45: the data does not test it", tt.filter, len(want))
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %v\nwant %v", got, want)
			}
		})
	}
	refused := []struct{ name, filter, msg string }{
		{"serviceSource is alerts_v2's", "serviceSource eq 'microsoftSentinel'", "Could not find a property named 'serviceSource'"},
		{"displayName", "displayName eq 'x'", "cannot be used in $filter"},
		{"awaitingAction without Prefer", "status eq 'awaitingAction'", "awaitingAction"},
		{"PascalCase member", "status eq 'Active'", "Active"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			checkGraphError(t, graphGet(t, f.s, tok, incidentsQuery("$filter", tt.filter)), 400, "BadRequest", tt.msg)
		})
	}
}

func TestIncidentsPaging(t *testing.T) {
	t.Parallel()
	f := incidentsFixture(t, Options{})
	inc := f.s.Incidents(tenantA)
	now := f.clock.Now()
	inc.Generate(120, IncidentsGenerate{From: now.Add(-72 * time.Hour), To: now})
	tok := incidentsToken(t, f)
	all := wantIncidents(t, inc, func(Incident) bool { return true })
	tests := []struct {
		name, first string
		pages       int
		want        []string
	}{
		{"default page size 20", incidentsPath, 6, all},
		{"$top=25", incidentsQuery("$top", "25"), 5, all},
		{"$top above the cap is clamped", incidentsQuery("$top", "500"), 3, all},
		{"$skip", incidentsQuery("$top", "50", "$skip", "100"), 1, all[100:]},
		{"with $filter and $expand", incidentsQuery("$top", "30", "$expand", "alerts", "$filter", "lastUpdateDateTime ge 2000-01-01T00:00:00Z"), 4, all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values, pages := followIncidents(t, f.s, tok, tt.first, nil)
			if got := idsOf(values); !slices.Equal(got, tt.want) || pages != tt.pages {
				t.Errorf("%d pages of %d incidents, want %d of %d (same order: %t)", pages, len(got), tt.pages, len(tt.want), slices.Equal(got, tt.want))
			}
		})
	}
	t.Run("$count on every page", func(t *testing.T) {
		a := graphGet(t, f.s, tok, incidentsQuery("$top", "50", "$count", "true"))
		if a.body["@odata.count"] != float64(120) || len(a.values()) != 50 {
			t.Fatalf("first page: count %v, %d incidents", a.body["@odata.count"], len(a.values()))
		}
		b := graphGet(t, f.s, tok, a.body["@odata.nextLink"].(string))
		if b.body["@odata.count"] != float64(120) {
			t.Errorf("second page: count %v", b.body["@odata.count"])
		}
	})
	t.Run("a skiptoken is bound to its query", func(t *testing.T) {
		a := graphGet(t, f.s, tok, incidentsQuery("$top", "10"))
		link, _ := url.Parse(a.body["@odata.nextLink"].(string))
		token := link.Query().Get("$skiptoken")
		checkGraphError(t, graphGet(t, f.s, tok, incidentsQuery("$top", "11", "$skiptoken", token)), 400, "BadRequest", "$skiptoken")
		// Nor is an alerts_v2 token taken here.
		g := graphGet(t, f.s, graphToken(t, f), alertsV2+"?$top=10")
		if g.status != 200 {
			t.Fatalf("alerts_v2: %v", g)
		}
		if link, ok := g.body["@odata.nextLink"].(string); ok {
			u, _ := url.Parse(link)
			checkGraphError(t, graphGet(t, f.s, tok, incidentsQuery("$top", "10", "$skiptoken", u.Query().Get("$skiptoken"))), 400, "BadRequest", "$skiptoken")
		}
	})
	t.Run("the list is evaluated for each page", func(t *testing.T) {
		a := graphGet(t, f.s, tok, incidentsQuery("$top", "50"))
		// A new incident is the newest: it pushes the list down by one.
		inc.Generate(1, IncidentsGenerate{From: f.clock.Now(), To: f.clock.Now()})
		b := graphGet(t, f.s, tok, a.body["@odata.nextLink"].(string))
		if got := idsOf(b.values()); len(got) == 0 || got[0] != all[49] {
			t.Errorf("second page starts with %v, want the first page's last, %s, again", got[:1], all[49])
		}
	})
}

func TestIncidentsStyles(t *testing.T) {
	t.Parallel()
	f := incidentsFixture(t, Options{})
	inc := f.s.Incidents(tenantA)
	inc.SetStyleShare(0.4)
	now := f.clock.Now()
	ids := inc.Generate(150, IncidentsGenerate{From: now.Add(-time.Hour), To: now})
	tok := incidentsToken(t, f)
	values, _ := followIncidents(t, f.s, tok, incidentsQuery("$top", "50"), nil)
	seen := map[IncidentStyle]int{}
	for _, v := range values {
		want, _, _ := inc.Latest(v["id"].(string))
		seen[want.Style]++
		status := want.Status
		if status == "awaitingAction" {
			status = "unknownFutureValue" // no Prefer header
		}
		enum := func(s string) string { return s }
		if want.Style == IncidentStylePascalCase {
			enum = func(s string) string { return strings.ToUpper(s[:1]) + s[1:] }
		}
		if v["status"] != enum(status) || v["severity"] != enum(want.Severity) || v["classification"] != enum(want.Classification) ||
			v["determination"] != enum(want.Determination) {
			t.Errorf("incident %s (style %d): status %v severity %v classification %v determination %v, want %+v",
				want.ID, want.Style, v["status"], v["severity"], v["classification"], v["determination"], want)
		}
		_, custom := v["customTags"]
		_, tags := v["tags"]
		if custom == (want.Style == IncidentStyleTags) || tags != (want.Style == IncidentStyleTags) {
			t.Errorf("incident %s (style %d): customTags %t tags %t", want.ID, want.Style, custom, tags)
		}
		last, _ := v["lastUpdateDateTime"].(string)
		if len(last) != len("2021-09-30T09:35:45.1133333Z") {
			t.Errorf("lastUpdateDateTime %q: want 7 fractional digits", last)
		}
	}
	for _, style := range []IncidentStyle{IncidentStyleMetadata, IncidentStylePascalCase, IncidentStyleTags} {
		if seen[style] == 0 {
			t.Errorf("no incident of style %d in %v", style, seen)
		}
	}

	t.Run("the share is seeded", func(t *testing.T) {
		other := startServer(t, Options{Now: f.clock.Now})
		oinc := other.Incidents(tenantA)
		oinc.SetStyleShare(0.4)
		oids := oinc.Generate(150, IncidentsGenerate{From: now.Add(-time.Hour), To: now})
		if !slices.Equal(ids, oids) {
			t.Fatal("the same seed made other ids")
		}
		for _, id := range ids {
			a, _, _ := inc.Latest(id)
			b, _, _ := oinc.Latest(id)
			if a.Style != b.Style || a.Status != b.Status || !a.LastUpdateDateTime.Equal(b.LastUpdateDateTime) {
				t.Fatalf("incident %s differs: %+v / %+v", id, a, b)
			}
		}
	})
	t.Run("share 0", func(t *testing.T) {
		inc.SetStyleShare(0)
		for _, id := range inc.Generate(50, IncidentsGenerate{}) {
			if i, _, _ := inc.Latest(id); i.Style != IncidentStyleMetadata {
				t.Fatalf("incident %s has style %d", id, i.Style)
			}
		}
	})
}

// rawValues is the answer's value array as raw JSON objects, by id.
func rawValues(t *testing.T, raw []byte) map[string]json.RawMessage {
	t.Helper()
	var page struct{ Value []json.RawMessage }
	if err := json.Unmarshal(raw, &page); err != nil {
		t.Fatal(err)
	}
	out := map[string]json.RawMessage{}
	for _, v := range page.Value {
		var id struct{ ID string }
		if err := json.Unmarshal(v, &id); err != nil {
			t.Fatal(err)
		}
		out[id.ID] = v
	}
	return out
}

func TestIncidentsExpandAlerts(t *testing.T) {
	t.Parallel()
	f := incidentsFixture(t, Options{})
	inc := f.s.Incidents(tenantA)
	now := f.clock.Now()
	ids := inc.Generate(20, IncidentsGenerate{From: now.Add(-time.Hour), To: now, MaxAlerts: 5})
	// Alerts of no incident stay out of every incident.
	f.s.Graph(tenantA).Generate(10, GraphGenerate{From: now.Add(-time.Hour), To: now})
	tok := incidentsToken(t, f)
	alertsServed := graphGet(t, f.s, graphToken(t, f), alertsV2+"?$top=1000")
	if alertsServed.status != 200 {
		t.Fatal(alertsServed)
	}
	byID := rawValues(t, alertsServed.raw)

	check := func(t *testing.T, v map[string]any) {
		t.Helper()
		id := v["id"].(string)
		_, want, _ := inc.Latest(id)
		raw, _ := json.Marshal(v["alerts"])
		var got []json.RawMessage
		if err := json.Unmarshal(raw, &got); err != nil || len(got) != len(want) || len(want) == 0 {
			t.Fatalf("incident %s: %d alerts, want %d (%v)", id, len(got), len(want), err)
		}
		for i, a := range got {
			var m, w map[string]any
			_ = json.Unmarshal(a, &m)
			_ = json.Unmarshal(byID[want[i]], &w)
			if m["id"] != want[i] || m["incidentId"] != id || !reflect.DeepEqual(m, w) {
				t.Errorf("incident %s alert %d: %v\nwant as alerts_v2 serves it: %v", id, i, m["id"], want[i])
			}
		}
	}
	t.Run("list", func(t *testing.T) {
		a := graphGet(t, f.s, tok, incidentsQuery("$expand", "alerts", "$top", "50"))
		if a.status != 200 || len(a.values()) != len(ids) {
			t.Fatalf("got %v", a)
		}
		if a.body["@odata.context"] != f.s.URL()+"/v1.0/$metadata#security/incidents(alerts())" {
			t.Errorf("@odata.context %v", a.body["@odata.context"])
		}
		for _, v := range a.values() {
			check(t, v)
		}
	})
	t.Run("get", func(t *testing.T) {
		a := graphGet(t, f.s, tok, incidentsPath+"/"+ids[3]+"?$expand=alerts")
		if a.status != 200 {
			t.Fatal(a)
		}
		check(t, a.body)
	})
}

// TestIncidentsExpandFailsOnLargeIncidents is elastic/integrations#18144:
// a filtered list with $expand=alerts answers 500 while its page holds an
// incident with more alerts than the limit; without $expand, or for the one
// incident, it works.
func TestIncidentsExpandFailsOnLargeIncidents(t *testing.T) {
	t.Parallel()
	f := incidentsFixture(t, Options{})
	inc := f.s.Incidents(tenantA)
	now := f.clock.Now()
	ids := inc.Generate(20, IncidentsGenerate{From: now.Add(-2 * time.Hour), To: now.Add(-time.Hour)})
	large := ids[7]
	if _, err := inc.AddAlerts(large, 101, 0); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second) // the grown version is visible from its lastUpdateDateTime on
	tok := incidentsToken(t, f)
	cursor := "lastUpdateDateTime ge " + now.Add(-3*time.Hour).Format(time.RFC3339)
	tests := []struct {
		name, path string
		status     int
	}{
		{"filtered list with $expand", incidentsQuery("$expand", "alerts", "$filter", cursor, "$top", "25"), 500},
		{"again: the failure persists", incidentsQuery("$expand", "alerts", "$filter", cursor, "$top", "25"), 500},
		{"without $expand", incidentsQuery("$filter", cursor, "$top", "25"), 200},
		{"without $filter", incidentsQuery("$expand", "alerts", "$top", "25"), 200},
		{"a filter that leaves the incident out", incidentsQuery("$expand", "alerts", "$filter", cursor+" and lastUpdateDateTime lt "+now.Add(-time.Hour).Add(time.Second).Format(time.RFC3339), "$top", "50"), 200},
		{"get with $expand", incidentsPath + "/" + large + "?$expand=alerts", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := graphGet(t, f.s, tok, tt.path)
			if tt.status == 500 {
				checkGraphError(t, a, 500, "generalException", "An unspecified error has occurred.")
				return
			}
			if a.status != 200 {
				t.Fatalf("got %v", a)
			}
			if strings.Contains(tt.name, "leaves") && slices.Contains(a.ids(), large) {
				t.Error("the large incident is in the page")
			}
			if strings.HasPrefix(tt.name, "get") {
				if alerts, _ := a.body["alerts"].([]any); len(alerts) < 102 {
					t.Errorf("%d alerts", len(alerts))
				}
			}
		})
	}
	t.Run("a higher limit", func(t *testing.T) {
		inc.SetExpandLimit(200)
		defer inc.SetExpandLimit(DefaultIncidentExpandLimit)
		if a := graphGet(t, f.s, tok, tests[0].path); a.status != 200 {
			t.Errorf("got %v", a)
		}
	})
}

// TestIncidentsChanges: each change makes a new version whose
// lastUpdateDateTime is strictly later, and the API serves it.
func TestIncidentsChanges(t *testing.T) {
	t.Parallel()
	f := incidentsFixture(t, Options{})
	inc := f.s.Incidents(tenantA)
	now := f.clock.Now()
	// Every incident is updated at the clock's now: a change at the same
	// instant must still move lastUpdateDateTime.
	ids := inc.Generate(6, IncidentsGenerate{From: now, To: now})
	tok := incidentsToken(t, f)
	tests := []struct {
		name   string
		id     string
		change func() error
		check  func(t *testing.T, i Incident, alerts []string, before []string)
	}{
		{"an alert joins", ids[0], func() error { _, err := inc.AddAlert(ids[0], 0); return err },
			func(t *testing.T, i Incident, alerts, before []string) {
				if len(alerts) != len(before)+1 {
					t.Errorf("%d alerts, want %d", len(alerts), len(before)+1)
				}
			}},
		{"status", ids[1], func() error { return inc.Update(ids[1], func(i *Incident) { i.Status = "resolved" }, 0) },
			func(t *testing.T, i Incident, _, _ []string) {
				if i.Status != "resolved" {
					t.Errorf("status %s", i.Status)
				}
			}},
		{"assignment and comment", ids[2], func() error {
			return inc.Update(ids[2], func(i *Incident) {
				i.AssignedTo = new(string)
				*i.AssignedTo = "KaiC@contoso.onmicrosoft.com"
				i.Comments = append(i.Comments, IncidentComment{Comment: "Demo incident", CreatedBy: "DavidS@contoso.onmicrosoft.com", CreatedTime: now})
			}, 0)
		}, func(t *testing.T, i Incident, _, _ []string) {
			if i.AssignedTo == nil || *i.AssignedTo != "KaiC@contoso.onmicrosoft.com" || len(i.Comments) == 0 {
				t.Errorf("got %+v", i)
			}
		}},
		{"merged away", ids[3], func() error { return inc.Merge(ids[3], ids[4], 0) },
			func(t *testing.T, i Incident, alerts, _ []string) {
				if i.Status != "redirected" || i.RedirectIncidentID == nil || *i.RedirectIncidentID != ids[4] || len(alerts) != 0 {
					t.Errorf("got %+v with %d alerts", i, len(alerts))
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev, before, _ := inc.Latest(tt.id)
			if err := tt.change(); err != nil {
				t.Fatal(err)
			}
			got, alerts, _ := inc.Latest(tt.id)
			if !got.LastUpdateDateTime.After(prev.LastUpdateDateTime) {
				t.Errorf("lastUpdateDateTime %v, not after %v", got.LastUpdateDateTime, prev.LastUpdateDateTime)
			}
			tt.check(t, got, alerts, before)
			f.clock.Advance(time.Second) // the version is visible from its lastUpdateDateTime on
			filter := "lastUpdateDateTime gt " + prev.LastUpdateDateTime.Format(time.RFC3339Nano)
			a := graphGet(t, f.s, tok, incidentsQuery("$filter", filter))
			if !slices.Contains(a.ids(), tt.id) {
				t.Errorf("%s after the change: %v", filter, a)
			}
		})
	}
	t.Run("merge moves the alerts", func(t *testing.T) {
		from, into := ids[5], ids[4]
		prevInto, intoAlerts, _ := inc.Latest(into)
		_, fromAlerts, _ := inc.Latest(from)
		if err := inc.Merge(from, into, 0); err != nil {
			t.Fatal(err)
		}
		got, alerts, _ := inc.Latest(into)
		f2, _, _ := inc.Latest(from)
		if !got.LastUpdateDateTime.After(prevInto.LastUpdateDateTime) || !f2.LastUpdateDateTime.Equal(got.LastUpdateDateTime) {
			t.Errorf("into %v (was %v), from %v", got.LastUpdateDateTime, prevInto.LastUpdateDateTime, f2.LastUpdateDateTime)
		}
		if want := append(slices.Clone(intoAlerts), fromAlerts...); !slices.Equal(alerts, want) {
			t.Errorf("alerts %v, want %v", alerts, want)
		}
		for _, id := range fromAlerts {
			a, ok := f.s.Graph(tenantA).Latest(id)
			if !ok || a.IncidentID == nil || *a.IncidentID != into || !strings.Contains(*a.IncidentWebURL, "/incidents/"+into+"?") {
				t.Errorf("alert %s: incidentId %v", id, a.IncidentID)
			}
		}
		if err := inc.Merge(from, into, 0); err == nil {
			t.Error("merged a redirected incident again")
		}
		if _, err := inc.AddAlert(from, 0); err == nil {
			t.Error("a redirected incident took an alert")
		}
	})
	t.Run("refused changes", func(t *testing.T) {
		for name, err := range map[string]error{
			"unknown id":      inc.Update("1", nil, 0),
			"change of id":    inc.Update(ids[0], func(i *Incident) { i.ID = "9" }, 0),
			"not a member":    inc.Update(ids[0], func(i *Incident) { i.Status = "Active" }, 0),
			"merge into self": inc.Merge(ids[0], ids[0], 0),
		} {
			if err == nil {
				t.Errorf("%s: no error", name)
			}
		}
	})
}

// TestIncidentsVersions: Versions is the oracle of what the API shows, late
// versions included.
func TestIncidentsVersions(t *testing.T) {
	t.Parallel()
	f := incidentsFixture(t, Options{})
	inc := f.s.Incidents(tenantA)
	now := f.clock.Now()
	inc.Generate(40, IncidentsGenerate{From: now.Add(-time.Hour), To: now, VisibleAfter: time.Minute})
	for range 5 {
		f.clock.Advance(time.Minute)
		inc.UpdateRandom(10, 2*time.Minute)
	}
	tok := incidentsToken(t, f)
	versions := inc.Versions()
	byID := map[string][]IncidentVersion{}
	for _, v := range versions {
		byID[v.ID] = append(byID[v.ID], v)
	}
	for id, vs := range byID {
		for i := 1; i < len(vs); i++ {
			if !vs[i].LastUpdateDateTime.After(vs[i-1].LastUpdateDateTime) {
				t.Errorf("incident %s: version %d at %v, not after %v", id, i, vs[i].LastUpdateDateTime, vs[i-1].LastUpdateDateTime)
			}
		}
		latest, _, _ := inc.Latest(id)
		if last := vs[len(vs)-1]; !last.LastUpdateDateTime.Equal(latest.LastUpdateDateTime) {
			t.Errorf("incident %s: last version %v, Latest %v", id, last.LastUpdateDateTime, latest.LastUpdateDateTime)
		}
	}
	// What the API serves at each moment is, per incident, the newest
	// version visible by then.
	for _, step := range []time.Duration{0, time.Minute, 10 * time.Minute} {
		f.clock.Advance(step)
		at := f.clock.Now()
		want := map[string]time.Time{}
		for _, v := range versions {
			if !v.VisibleAt.After(at) {
				want[v.ID] = v.LastUpdateDateTime
			}
		}
		values, _ := followIncidents(t, f.s, tok, incidentsQuery("$top", "50"), nil)
		got := map[string]time.Time{}
		for _, v := range values {
			ts, err := time.Parse(time.RFC3339Nano, v["lastUpdateDateTime"].(string))
			if err != nil {
				t.Fatal(err)
			}
			got[v["id"].(string)] = ts
		}
		if len(got) != len(want) {
			t.Errorf("at +%v: served %d incidents, oracle %d", at.Sub(now), len(got), len(want))
		}
		for id, w := range want {
			if g, ok := got[id]; !ok || !g.Equal(w) {
				t.Errorf("at +%v: incident %s served at %v, oracle %v", at.Sub(now), id, g, w)
			}
		}
	}
}

// TestIncidentsConcurrent: changes from several goroutines while a client
// pages with $expand=alerts keep the store's invariants (run with -race).
func TestIncidentsConcurrent(t *testing.T) {
	t.Parallel()
	f := incidentsFixture(t, Options{})
	inc := f.s.Incidents(tenantA)
	ids := inc.Generate(30, IncidentsGenerate{From: f.clock.Now().Add(-time.Hour), To: f.clock.Now()})
	tok := incidentsToken(t, f)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				inc.UpdateRandom(2, 0)
				_, _ = inc.AddAlert(ids[(w*7+i)%len(ids)], 0) // refused once the incident is merged away
			}
		})
	}
	for range 10 {
		followIncidents(t, f.s, tok, incidentsQuery("$expand", "alerts", "$top", "50"), nil)
	}
	wg.Wait()

	last := map[string]time.Time{}
	for _, v := range inc.Versions() {
		if prev, ok := last[v.ID]; ok && !v.LastUpdateDateTime.After(prev) {
			t.Errorf("incident %s: version at %v after one at %v", v.ID, v.LastUpdateDateTime, prev)
		}
		last[v.ID] = v.LastUpdateDateTime
	}
	owner := map[string]string{}
	for _, id := range inc.IDs() {
		i, alerts, _ := inc.Latest(id)
		if i.Status == "redirected" && len(alerts) != 0 {
			t.Errorf("redirected incident %s still has %d alerts", id, len(alerts))
		}
		for _, aid := range alerts {
			if other, dup := owner[aid]; dup {
				t.Errorf("alert %s in incidents %s and %s", aid, other, id)
			}
			owner[aid] = id
			if a, ok := f.s.Graph(tenantA).Latest(aid); !ok || a.IncidentID == nil || *a.IncidentID != id {
				t.Errorf("alert %s of incident %s has incidentId %v", aid, id, a.IncidentID)
			}
		}
	}
}

func TestIncidentsRateLimit(t *testing.T) {
	t.Parallel()
	if got := DocumentedRateLimits(APIIncidents); !slices.Equal(got, []RateLimit{{Requests: 150, Per: time.Minute}}) {
		t.Errorf("documented limits %v", got)
	}
	f := incidentsFixture(t, Options{RateLimits: map[string]RateLimits{APIIncidents: LimitTo(RateLimit{Requests: 2, Per: time.Minute})}})
	tok := incidentsToken(t, f)
	for i := range 2 {
		if a := graphGet(t, f.s, tok, incidentsPath); a.status != 200 {
			t.Fatalf("request %d: %v", i, a)
		}
	}
	a := graphGet(t, f.s, tok, incidentsPath)
	checkGraphError(t, a, 429, "TooManyRequests", "Please retry again later.")
	if secs, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || secs < 1 || secs > 60 {
		t.Errorf("Retry-After %q", a.header.Get("Retry-After"))
	}
	// alerts_v2 counts apart, under its own name.
	if b := graphGet(t, f.s, graphToken(t, f), alertsV2); b.status != 200 {
		t.Errorf("alerts_v2: %v", b)
	}
	f.s.SetRateLimits(APIIncidents, NoRateLimits())
	if b := graphGet(t, f.s, tok, incidentsPath); b.status != 200 {
		t.Errorf("without limits: %v", b)
	}
	var logged int
	for _, r := range f.s.APIRequests() {
		if r.API == APIIncidents {
			logged++
		}
	}
	if logged != 4 {
		t.Errorf("%d requests logged as %q, want 4", logged, APIIncidents)
	}
}

func TestIncidentsFaults(t *testing.T) {
	t.Parallel()
	f := incidentsFixture(t, Options{})
	inc := f.s.Incidents(tenantA)
	inc.Generate(5, IncidentsGenerate{})
	tok := incidentsToken(t, f)
	tests := []struct {
		name  string
		fault APIFault
		check func(t *testing.T, a mdeAnswer)
	}{
		{"503", APIFault{Status: http.StatusServiceUnavailable, RetryAfter: 3 * time.Second}, func(t *testing.T, a mdeAnswer) {
			checkGraphError(t, a, 503, "serviceNotAvailable", "not available")
			if a.header.Get("Retry-After") != "3" {
				t.Errorf("Retry-After %q", a.header.Get("Retry-After"))
			}
		}},
		{"throttled", APIFault{Throttled: true, RetryAfter: time.Second}, func(t *testing.T, a mdeAnswer) {
			checkGraphError(t, a, 429, "TooManyRequests", "retry")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc.Fail(1, tt.fault)
			tt.check(t, graphGet(t, f.s, tok, incidentsPath))
		})
	}
	t.Run("alerts_v2 is not faulted", func(t *testing.T) {
		inc.Fail(1, APIFault{Status: 500})
		if a := graphGet(t, f.s, graphToken(t, f), alertsV2); a.status != 200 {
			t.Errorf("alerts_v2: %v", a)
		}
		checkGraphError(t, graphGet(t, f.s, tok, incidentsPath), 500, "generalException", "unspecified")
	})
	t.Run("one incident's get broken", func(t *testing.T) {
		ids := inc.IDs()
		inc.BreakGet(ids[0], http.StatusInternalServerError)
		for range 2 { // persistent
			checkGraphError(t, graphGet(t, f.s, tok, incidentsPath+"/"+ids[0]+"?$expand=alerts"), 500, "generalException", "unspecified")
		}
		if a := graphGet(t, f.s, tok, incidentsPath+"/"+ids[1]+"?$expand=alerts"); a.status != 200 {
			t.Errorf("another incident: %v", a)
		}
		if a := graphGet(t, f.s, tok, incidentsPath); a.status != 200 || !slices.Contains(a.ids(), ids[0]) {
			t.Errorf("the list must still show it: %v", a)
		}
		inc.BreakGet(ids[0], 0)
		if a := graphGet(t, f.s, tok, incidentsPath+"/"+ids[0]); a.status != 200 {
			t.Errorf("repaired: %v", a)
		}
	})
}

// TestSimulatedAPIsMatchParts keeps simulatedAPIs and newParts together.
func TestSimulatedAPIsMatchParts(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	var parts, facts []string
	for _, p := range s.parts {
		parts = append(parts, p.Facts().Name)
	}
	for _, a := range simulatedAPIs() {
		facts = append(facts, a.Name)
	}
	if !slices.Equal(parts, facts) {
		t.Errorf("parts %v, simulatedAPIs %v", parts, facts)
	}
	for _, a := range apis.All() {
		if !slices.Contains(facts, a.Name) {
			t.Errorf("apis.All lists %q, which the simulator does not serve", a.Name)
		}
	}
}
