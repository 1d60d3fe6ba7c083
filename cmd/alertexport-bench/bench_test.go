package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/worker"
)

// TestThroughputEndToEnd runs a tiny throughput scenario the whole way: build the binary,
// export 300 alerts with the real `alertexport run`, publish them again raw, export them with
// both pass-throughs (c) and (d), and print the report as JSON, with the bench's own profiles of its phases. The figures must be sane, not
// fast.
func TestThroughputEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the alertexport binary")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	prof := filepath.Join(t.TempDir(), "bench")
	rep, num, stdout := runReport(ctx, t, []string{"-alerts", "300", "-json", "-bench-profile", prof})
	for _, phase := range []string{".product.cpu", ".pass.cpu", ".envpass.cpu"} {
		if fi, err := os.Stat(prof + phase); err != nil || fi.Size() == 0 {
			t.Errorf("-bench-profile wrote no %s profile: %v", phase, err)
		}
	}
	for _, key := range []string{"raw_alerts_per_s", "product_alerts_per_s", "ratio", "peak_rss_mib", "cpu_seconds", "allocs_per_alert",
		"pass_alerts_per_s", "pass_ratio", "envpass_alerts_per_s", "envpass_ratio", "envpass_of_pass"} {
		if v := num(key); v <= 0 {
			t.Errorf("%s = %v, want > 0", key, v)
		}
	}
	for _, key := range []string{"api_requests", "token_requests"} {
		if v := num(key); v < 1 {
			t.Errorf("%s = %v, want ≥ 1", key, v)
		}
	}
	if v := num("pass_read_amplification"); v != 1 {
		t.Errorf("pass_read_amplification = %v, want 1 (its windows hold less than a page)", v)
	}
	if v := num("poll_errors"); v != 0 {
		t.Errorf("poll_errors = %v, want 0", v)
	}
	if rep["stream_exact"] != true || rep["alerts"] != 300.0 || rep["scenario"] != "throughput" || rep["source"] != "endpoint" {
		t.Errorf("report: %s", stdout)
	}
}

// TestFlags: scenario defaults, and what is refused.
func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		source    string
		alerts    int
		command   string
		timeScale float64
		err       string
	}{
		{args: nil, source: "endpoint", alerts: 100_000, command: "run", timeScale: 1},
		{args: []string{"-scenario", "ratelimited"}, source: "cloudapps", alerts: 2500, command: "backfill", timeScale: 1},
		{args: []string{"-scenario", "ratelimited", "-source", "graph", "-time-scale", "60", "-command", "run"}, source: "graph", alerts: 2500, command: "run", timeScale: 60},
		{args: []string{"-source", "graph", "-alerts", "10"}, source: "graph", alerts: 10, command: "run", timeScale: 1},
		{args: []string{"-scenario", "idle"}, source: "both", alerts: 5, command: "run", timeScale: 1},
		{args: []string{"-scenario", "idle", "-source", "endpoint"}, err: "idle always runs both"},
		{args: []string{"-scenario", "idle", "-idle-for", "90s"}, err: "whole minutes"},
		{args: []string{"-scenario", "idle", "-command", "backfill"}, err: "only the ratelimited scenario runs backfill"},
		{args: []string{"-command", "backfill"}, err: "only the ratelimited scenario runs backfill"},
		{args: []string{"-scenario", "ratelimited", "-command", "tail"}, err: "want backfill or run"},
		{args: []string{"-time-scale", "60"}, err: "only the ratelimited scenario has limits to scale"},
		{args: []string{"-scenario", "ratelimited", "-time-scale", "0"}, err: "want a factor above 0"},
		{args: []string{"-scenario", "ratelimited", "-time-scale", "NaN"}, err: "want a factor above 0"},
		{args: []string{"-source", "mde"}, err: "want endpoint, cloudapps, graph or both"},
		{args: []string{"-scenario", "soak"}, err: "want throughput, ratelimited or idle"},
		{args: []string{"-runs", "0"}, err: "-runs 0"},
	} {
		var stderr bytes.Buffer
		o, err := parseFlags(tc.args, &stderr)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case tc.err == "" && (o.source != tc.source || o.alerts != tc.alerts || o.command != tc.command || o.timeScale != tc.timeScale):
			t.Errorf("%q: source %s, %d alerts, command %s, time scale %v; want %s, %d, %s, %v", tc.args,
				o.source, o.alerts, o.command, o.timeScale, tc.source, tc.alerts, tc.command, tc.timeScale)
		}
	}
}

// TestRateLimitedEndToEnd runs the rate-limited scenario at a time scale of 60, small: the
// child exports the backlog under the scaled limits without one 429, and no window of a limit
// holds more calls than it. Backfill and run, Cloud Apps and Graph.
func TestRateLimitedEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the alertexport binary")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	bin, err := buildBinary(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		source, command string
		alerts          int
	}{
		{"cloudapps", "backfill", 1500},
		{"cloudapps", "run", 1500},
		{"graph", "backfill", 3000},
	}
	for _, tt := range tests {
		t.Run(tt.source+" "+tt.command, func(t *testing.T) {
			args := []string{"-scenario", "ratelimited", "-time-scale", "60", "-source", tt.source, "-command", tt.command,
				"-alerts", strconv.Itoa(tt.alerts), "-binary", bin, "-json"}
			rep, num, stdout := runReport(ctx, t, args)
			if rep["stream_exact"] != true || rep["no_429"] != true || rep["command"] != tt.command || num("api_429") != 0 {
				t.Errorf("report: %s", stdout)
			}
			if v := num(tt.source + "_requests"); v < 3 {
				t.Errorf("%s_requests = %v, want a few", tt.source, v)
			}
			// Never more calls in a window than the documented limit (the first window's may go
			// at once, so the rate over a few windows may be a little above it).
			if v := num(tt.source + "_calls_ratio"); v <= 0 {
				t.Errorf("%s_calls_ratio = %v, want above 0", tt.source, v)
			}
			if v := num(tt.source + "_window_ratio"); v <= 0 || v > 1 {
				t.Errorf("%s_window_ratio = %v, want in (0, 1]: no window holds more than the limit", tt.source, v)
			}
			if v := num("time_scale"); v != 60 {
				t.Errorf("time_scale = %v", v)
			}
		})
	}
}

// TestParseProm reads the lines the child's /metrics writes.
func TestParseProm(t *testing.T) {
	page, err := parseProm(strings.NewReader(`# HELP go_memstats_mallocs_total Total number of heap objects allocated.
# TYPE go_memstats_mallocs_total counter
go_memstats_mallocs_total 1.234567e+06
alertexport_polls_total{source="endpoint",tenant="t000"} 3
alertexport_polls_total{source="cloudapps",tenant="t000"} 4
alertexport_api_requests_total{code="200",source="endpoint",tenant="a\"b,c}"} 2
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		match map[string]string
		want  float64
	}{
		{"go_memstats_mallocs_total", nil, 1234567},
		{"alertexport_polls_total", nil, 7},
		{"alertexport_polls_total", map[string]string{"source": "cloudapps"}, 4},
		{"alertexport_api_requests_total", map[string]string{"tenant": `a"b,c}`}, 2},
	} {
		if got := page.sum(tc.name, tc.match); got != tc.want {
			t.Errorf("sum(%s, %v) = %v, want %v", tc.name, tc.match, got, tc.want)
		}
	}
}

// TestMedian: each figure's median, a check holds only if it held in every run.
func TestMedian(t *testing.T) {
	var runs []*report
	for _, v := range []float64{5, 1, 3, 100} {
		r := &report{scenario: "throughput", runs: 1}
		r.add("x", "x", "", v)
		r.check("c", "c", v != 100, "")
		runs = append(runs, r)
	}
	m := median(runs)
	if v, _ := m.value("x"); v != 4 || m.runs != 4 || m.checks[0].ok {
		t.Errorf("median of 1 3 5 100 = %v (runs %d, check %v), want 4 and a failed check", v, m.runs, m.checks[0].ok)
	}
	if v, _ := median(runs[:3]).value("x"); v != 3 {
		t.Errorf("median of 5 1 3 = %v, want 3", v)
	}
}

// runReport runs the bench with args and returns its JSON report, a reader of its numbers that
// fails the test when one is missing, and its stdout.
func runReport(ctx context.Context, t *testing.T, args []string) (map[string]any, func(key string) float64, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(ctx, args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr.String())
	}
	var rep map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("the report is not one JSON object: %v\n%s", err, stdout.String())
	}
	num := func(key string) float64 {
		t.Helper()
		v, ok := rep[key].(float64)
		if !ok {
			t.Fatalf("report lacks %q: %s", key, stdout.String())
		}
		return v
	}
	return rep, num, stdout.String()
}

// TestPlanWindows: windows of at most n alerts that cover every time once, an instant never
// split, the last open-ended.
func TestPlanWindows(t *testing.T) {
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	at := func(secs ...int) []time.Time {
		var out []time.Time
		for _, s := range secs {
			out = append(out, base.Add(time.Duration(s)*time.Second))
		}
		return out
	}
	for _, tt := range []struct {
		name  string
		times []time.Time
		n     int
		want  int // windows
	}{
		{"fewer than a page", at(1, 2, 3), 5, 1},
		{"exactly pages", at(1, 2, 3, 4), 2, 2},
		{"an instant at the cut goes whole to the next", at(1, 2, 2, 3, 4), 2, 3},
		{"spread", at(1, 2, 3, 4, 5, 6, 7), 3, 3},
		{"an instant of more than n", at(1, 2, 2, 2, 3), 2, 3},
		{"an instant of more than n at the end", at(1, 2, 2, 2), 2, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ws := planWindows(tt.times, tt.n)
			if len(ws) != tt.want || !ws[len(ws)-1][1].IsZero() {
				t.Fatalf("%d windows %v, want %d, the last open", len(ws), ws, tt.want)
			}
			for _, x := range tt.times {
				in := 0
				for _, w := range ws {
					if !x.Before(w[0]) && (w[1].IsZero() || x.Before(w[1])) {
						in++
					}
				}
				if in != 1 {
					t.Errorf("%v is in %d windows", x, in)
				}
			}
			for _, w := range ws {
				held := 0
				for _, x := range tt.times {
					if !x.Before(w[0]) && (w[1].IsZero() || x.Before(w[1])) {
						held++
					}
				}
				if held > tt.n && held != countAt(tt.times, w[0]) { // only an instant may hold more
					t.Errorf("window %v holds %d, more than %d", w, held, tt.n)
				}
			}
		})
	}
}

func countAt(times []time.Time, t time.Time) int {
	n := 0
	for _, x := range times {
		if x.Equal(t) {
			n++
		}
	}
	return n
}

// TestPassThroughPublish: (c) sends the alert as it came under its message ID; (d) sends the
// product's message for it as it is, its headers untouched, and refuses an alert the product
// published nothing for rather than time an export that sends less. On a real NATS server.
func TestPassThroughPublish(t *testing.T) {
	ns, err := startNATS(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.close)
	ctx := t.Context()
	raw := []byte(`{"id":"da1","lastUpdateTime":"2026-12-01T00:00:00Z"}`)
	msgID := envelope.MsgID("contoso", sourceEndpoint, "da1", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	product := &nats.Msg{Subject: envPassPrefix + "endpoint.contoso.high", Data: []byte(`{"schema":"alertexport.alert.v1"}`),
		Header: nats.Header{jetstream.MsgIDHeader: {msgID}, "Alert-Severity": {"high"}}}
	for i, tc := range []struct {
		name      string
		envelopes map[string]*nats.Msg
		want      *nats.Msg // stored; nil: an error
	}{
		{"as it came", nil, &nats.Msg{Subject: passPrefix + "endpoint.contoso.pass", Data: raw, Header: nats.Header{jetstream.MsgIDHeader: {msgID}}}},
		{"the product's message", map[string]*nats.Msg{msgID: product}, product},
		{"none from the product", map[string]*nats.Msg{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A stream of its own: the cases send the same message ID.
			st, err := ns.js.CreateStream(ctx, jetstream.StreamConfig{Name: "T" + strconv.Itoa(i), Subjects: []string{passPrefix + ">", envPassPrefix + ">"}})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := ns.js.DeleteStream(ctx, st.CachedInfo().Config.Name); err != nil {
					t.Error(err)
				}
			}()
			before := maps.Clone(product.Header)
			p := &passer{js: ns.js, tenant: "contoso", subject: passPrefix + "endpoint.contoso.pass", envelopes: tc.envelopes}
			err = p.publish(raw)
			if tc.want == nil {
				if err == nil || !strings.Contains(err.Error(), "the product published nothing for") {
					t.Fatalf("publish = %v, want: the product published nothing", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-ns.js.PublishAsyncComplete():
			case <-time.After(10 * time.Second):
				t.Fatal("no ack in 10 s")
			}
			got, err := st.GetLastMsgForSubject(ctx, tc.want.Subject)
			if err != nil {
				t.Fatal(err)
			}
			if string(got.Data) != string(tc.want.Data) || !reflect.DeepEqual(got.Header, tc.want.Header) {
				t.Errorf("stored %s %v, want %s %v", got.Data, got.Header, tc.want.Data, tc.want.Header)
			}
			if !reflect.DeepEqual(product.Header, before) {
				t.Errorf("the product's headers became %v", product.Header)
			}
		})
	}
}

// TestLateness: a poll's lateness is its first request after the whole minute it was due,
// counted from the child's start; Cloud Apps' second question is the same poll, and polls
// outside the window do not count.
func TestLateness(t *testing.T) {
	started := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	b := bench{tenants: []tenant{{name: "t000", id: "a"}}}
	// Each poll is late by what its time says past its job's phase; the scheduler started in
	// the second after the child's.
	due := func(source string, minute int, late float64) time.Time {
		return started.Add(time.Second + worker.Phase("t000", source, time.Minute) + time.Duration(minute)*time.Minute +
			time.Duration(late*float64(time.Second)))
	}
	reqs := []sim.APIRequest{
		{TenantID: "a", API: "endpoint", Time: started.Add(1500 * time.Millisecond)}, // the first poll, at start
		{TenantID: "a", API: "endpoint", Time: due("endpoint", 1, 0.2)},
		{TenantID: "a", API: "endpoint", Time: due("endpoint", 2, 0.4)},
		{TenantID: "a", API: "cloudapps", Time: started.Add(1600 * time.Millisecond)},
		{TenantID: "a", API: "cloudapps", Time: due("cloudapps", 1, 1.0)},
		{TenantID: "a", API: "cloudapps", Time: due("cloudapps", 1, 3.0)}, // the same poll's second question
		{TenantID: "a", API: "cloudapps", Time: due("cloudapps", 2, 0.8)},
	}
	r := &report{}
	b.lateness(r, &idleWindow{from: started.Add(62 * time.Second), to: started.Add(4 * time.Minute)}, reqs, started, started.Add(1500*time.Millisecond))
	for key, want := range map[string]float64{"idle_polls_measured": 4, "idle_lateness_p50_s": 0.8, "idle_lateness_max_s": 1.0,
		"first_poll_spread_s": 0.1} {
		if got, ok := r.value(key); !ok || math.Abs(got-want) > 1e-6 {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
}
