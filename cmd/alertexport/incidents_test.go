package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/internal/testutil"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/sourcetest"
)

// enableIncidents adds the incidents source to the world's (last) tenant. Its rate limit is
// raised (the simulator's is off for incidents): at Graph's 150 a minute, one read per incident
// version would make the test wait for the limiter, not for the export.
func (w *world) enableIncidents(t *testing.T) {
	t.Helper()
	w.doc += fmt.Sprintf("[tenant.incidents]\napi_url = %q\nrate_limits = [\"6000/1m\"]\n", w.srv.URL())
	if err := os.WriteFile(w.config, []byte(w.doc), 0o600); err != nil {
		t.Fatal(err)
	}
}

// incidentVersions adds to all the message ID of each incident's newest version the simulator
// shows at the time at.
func incidentVersions(inc *sim.IncidentsTenant, at time.Time, all map[string]bool) {
	vs := inc.Versions()
	latest := sourcetest.Newest(at, len(vs), func(i int) (string, time.Time, time.Time) {
		return vs[i].ID, vs[i].LastUpdateDateTime, vs[i].VisibleAt
	})
	for id, version := range latest {
		all[envelope.MsgID("contoso", "incidents", id, version)] = true
	}
}

// TestRunExportsEveryIncidentVersionOnce: a backlog of incidents, then incidents created,
// growing, changing and merged while `run` runs, through 500s, 429s and cut bodies on both the
// list and the reads of single incidents: every version is in the stream once, each with the
// complete alert ids of its incident, and nothing is dead-lettered.
func TestRunExportsEveryIncidentVersionOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "")
	w.enableIncidents(t)
	inc := w.srv.Incidents(e2eTenant)
	now := time.Now()
	inc.Generate(30, sim.IncidentsGenerate{From: now.Add(-5 * time.Hour), To: now, MaxAlerts: 4})
	inc.Fail(1, sim.APIFault{Throttled: true, RetryAfter: time.Second})
	inc.Fail(1, sim.APIFault{Status: 500})
	inc.SetFaultRates(sim.FaultRates{ServerError: 0.05, Throttle: 0.03, Truncate: 0.03})
	all := map[string]bool{}
	incidentVersions(inc, now, all)
	w.start(t)
	testutil.Eventually(t, 60*time.Second, "incident backlog exported", hasAll(w.natsURL, t, all))
	for range 3 {
		inc.Generate(3, sim.IncidentsGenerate{})
		inc.UpdateRandom(8, 0)
		inc.Generate(2, sim.IncidentsGenerate{VisibleAfter: 2 * time.Second}) // indexed late
		incidentVersions(inc, time.Now().Add(2*time.Second), all)             // with the late ones, once visible
		testutil.Eventually(t, 60*time.Second, "new and changed incidents exported", hasAll(w.natsURL, t, all))
	}
	msgs := streamMsgs(t, w.natsURL)
	checkStream(t, w, msgs, all)
	redirected := 0
	for _, m := range msgs {
		if e := m.Header.Get(envelope.HeaderError); e != "" {
			t.Errorf("%s dead-lettered: %s", m.Header.Get("Nats-Msg-Id"), e)
			continue
		}
		var in envelope.Incident
		if err := json.Unmarshal(m.Data, &in); err != nil || in.Schema != envelope.IncidentSchema {
			continue
		}
		cur, alerts, _ := inc.Latest(in.ID)
		if !cur.LastUpdateDateTime.Equal(in.UpdatedAt) {
			continue // an older version: its alerts are not kept by the oracle
		}
		if !slices.Equal(slices.Sorted(slices.Values(in.AlertIDs)), slices.Sorted(slices.Values(alerts))) {
			t.Errorf("incident %s: alert_ids %v, want %v", in.ID, in.AlertIDs, alerts)
		}
		if in.Status == envelope.IncidentRedirected {
			redirected++
		}
	}
	t.Logf("%d incident versions in the stream; %d incidents merged away", len(msgs), redirected)
	metrics := httpGet(t, "http://"+w.httpAddr+"/metrics")
	for _, code := range []string{"200", "500", "429"} {
		if want := fmt.Sprintf("alertexport_api_requests_total{code=%q,source=\"incidents\",tenant=\"contoso\"}", code); !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestDemoIncidents: `demo --sources incidents` prints one line per incident version, with its
// status and its number of alerts.
func TestDemoIncidents(t *testing.T) {
	t.Parallel()
	r := runCLI(t, nil, "demo", "--sources", "incidents", "--alerts", "30", "--for", "5s")
	if r.code != 0 {
		t.Fatalf("demo exited %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if n := strings.Count(r.stdout, "contoso/incidents"); n < 6 || strings.Contains(r.stdout, "contoso/graph") ||
		!strings.Contains(r.stdout, " alerts]") || !strings.Contains(r.stdout, "summary: ") {
		t.Errorf("demo printed %d incident lines, want ≥ 6 (the backlog) and no other source:\n%s", n, r.stdout)
	}
	if strings.Contains(r.stderr, "level=WARN") || strings.Contains(r.stderr, "level=ERROR") {
		t.Errorf("demo warned:\n%s", r.stderr)
	}
}
