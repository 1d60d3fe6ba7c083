package worker

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/auth"
	"github.com/alertexport/alertexport/sources/httpclient"
)

// Metrics are the Prometheus series of docs/operations.md, on a registry of their own (no globals).
type Metrics struct {
	Registry *prometheus.Registry

	published      *prometheus.CounterVec
	duplicates     *prometheus.CounterVec
	deadLetters    *prometheus.CounterVec
	apiRequests    *prometheus.CounterVec
	apiDuration    *prometheus.HistogramVec
	polls          *prometheus.CounterVec
	pollErrors     *prometheus.CounterVec
	tokenRequests  *prometheus.CounterVec
	lastSuccess    *prometheus.GaugeVec
	lastCheckpoint *prometheus.GaugeVec
	cursor         *prometheus.GaugeVec
	leaseHeld      *prometheus.GaugeVec
	lateness       *prometheus.HistogramVec
	heldBack       *prometheus.CounterVec
	jobInterval    *prometheus.GaugeVec
	failingSince   *prometheus.GaugeVec
	natsConnected  prometheus.GaugeFunc

	// connected is read by natsConnected at each scrape; nil (not yet set) reads as
	// disconnected: a daemon waiting for NATS at start has no connection.
	connected atomic.Pointer[func() bool]
}

// NewMetrics registers every series, plus the Go runtime and process collectors.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := promauto.With(reg)
	job := []string{"tenant", "source"}
	m := &Metrics{
		Registry: reg,
		published: f.NewCounterVec(prometheus.CounterOpts{Name: "alertexport_alerts_published_total",
			Help: "Alert versions published and accepted by NATS (duplicates excluded)."}, []string{"tenant", "source", "severity", "event"}),
		duplicates: f.NewCounterVec(prometheus.CounterOpts{Name: "alertexport_duplicates_total",
			Help: "Alert versions JetStream already held (same Nats-Msg-Id) and dropped."}, job),
		deadLetters: f.NewCounterVec(prometheus.CounterOpts{Name: "alertexport_dead_letters_total",
			Help: "Alerts published to the dead-letter subject: not normalized, or too large for the server."}, job),
		apiRequests: f.NewCounterVec(prometheus.CounterOpts{Name: "alertexport_api_requests_total",
			Help: "HTTP requests to the Defender APIs, by status code (0: no answer)."}, []string{"tenant", "source", "code"}),
		apiDuration: f.NewHistogramVec(prometheus.HistogramOpts{Name: "alertexport_api_request_duration_seconds",
			Help:    "Time of a request to the Defender APIs, including reading the page.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}}, job),
		polls: f.NewCounterVec(prometheus.CounterOpts{Name: "alertexport_polls_total",
			Help: "Polls run."}, job),
		pollErrors: f.NewCounterVec(prometheus.CounterOpts{Name: "alertexport_poll_errors_total",
			Help: "Polls that failed; their checkpoint did not move."}, job),
		tokenRequests: f.NewCounterVec(prometheus.CounterOpts{Name: "alertexport_token_requests_total",
			Help: "Token requests sent to Entra ID (cache hits excluded), by result."}, []string{"tenant", "result"}),
		lastSuccess: f.NewGaugeVec(prometheus.GaugeOpts{Name: "alertexport_last_success_timestamp_seconds",
			Help: "When the job's last poll succeeded (Unix time)."}, job),
		lastCheckpoint: f.NewGaugeVec(prometheus.GaugeOpts{Name: "alertexport_last_checkpoint_timestamp_seconds",
			Help: "When the job's checkpoint was last saved (Unix time)."}, job),
		cursor: f.NewGaugeVec(prometheus.GaugeOpts{Name: "alertexport_checkpoint_cursor_timestamp_seconds",
			Help: "The job's cursor: the newest alert update time fully exported (Unix time)."}, job),
		leaseHeld: f.NewGaugeVec(prometheus.GaugeOpts{Name: "alertexport_lease_held",
			Help: "1 while this replica holds the job's lease and runs it."}, job),
		lateness: f.NewHistogramVec(prometheus.HistogramOpts{Name: "alertexport_alert_lateness_seconds",
			Help:    "How far behind the cursor alerts appeared (indexed late by the API); near the lookback means raise it.",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 3600}}, job),
		heldBack: f.NewCounterVec(prometheus.CounterOpts{Name: "alertexport_versions_held_back_total",
			Help: "Alert versions exported that did not move the cursor: dated in the future (reason future) or before 2000 (before_2000), or sent outside the range asked for (outside_filter)."},
			[]string{"tenant", "source", "reason"}),
		jobInterval: f.NewGaugeVec(prometheus.GaugeOpts{Name: "alertexport_job_interval_seconds",
			Help: "The job's schedule interval (for an irregular cron schedule, the gap between its next two runs at start), so that alert rules can count in intervals."}, job),
		failingSince: f.NewGaugeVec(prometheus.GaugeOpts{Name: "alertexport_job_failing_since_timestamp_seconds",
			Help: "When the job's current run of failed polls on this replica began (Unix time); 0 while its last poll succeeded or none ran."}, job),
	}
	m.natsConnected = f.NewGaugeFunc(prometheus.GaugeOpts{Name: "alertexport_nats_connected",
		Help: "1 while the NATS connection is up, 0 while it is not (before the first connection too)."},
		func() float64 {
			if f := m.connected.Load(); f != nil && (*f)() {
				return 1
			}
			return 0
		})
	return m
}

// SetConnected sets what alertexport_nats_connected reports. The daemon sets it before it
// dials, so that a replica waiting for NATS at start reports 0 rather than nothing.
func (m *Metrics) SetConnected(connected func() bool) {
	m.connected.Store(&connected)
}

// APICall records one request to a Defender API (httpclient.API.Observe).
func (m *Metrics) APICall(c httpclient.Call) {
	m.apiRequests.WithLabelValues(c.Tenant, c.API, strconv.Itoa(c.Status)).Inc()
	m.apiDuration.WithLabelValues(c.Tenant, c.API).Observe(c.Duration.Seconds())
}

// Token records a token request (auth.Options.Observe); answers from MSAL's cache are not
// requests.
func (m *Metrics) Token(e auth.Event) {
	if e.FromCache {
		return
	}
	result := "ok"
	if e.Err != nil {
		result = "error"
	}
	m.tokenRequests.WithLabelValues(e.Tenant, result).Inc()
}

// Late returns the lateness observer for one job (endpoint.Options.Late).
func (m *Metrics) Late(tenant, source string) func(time.Duration) {
	h := m.lateness.WithLabelValues(tenant, source)
	return func(d time.Duration) { h.Observe(d.Seconds()) }
}

// HeldBack returns the observer of versions held back from the cursor for one job
// (sources.Options.HeldBack).
func (m *Metrics) HeldBack(tenant, source string) func(reason string) {
	return func(reason string) { m.heldBack.WithLabelValues(tenant, source, reason).Inc() }
}

// initJob makes a job's series exist from the start, so that dashboards and alert rules see
// the job before anything happens: its counters at 0 (the first dead letter or token failure
// is then an increase), its interval, whether this replica runs it (held: 1 without leases,
// since the process then runs every job; 0 with leases until a poll takes the lease), and no
// failure. The last success stays absent until there is one: a 0 would read as "failing since
// 1970".
func (m *Metrics) initJob(tenant, source string, interval time.Duration, held bool) {
	for _, c := range []*prometheus.CounterVec{m.duplicates, m.deadLetters, m.polls, m.pollErrors} {
		c.WithLabelValues(tenant, source)
	}
	m.tokenRequests.WithLabelValues(tenant, "ok")
	m.tokenRequests.WithLabelValues(tenant, "error")
	m.jobInterval.WithLabelValues(tenant, source).Set(interval.Seconds())
	m.failingSince.WithLabelValues(tenant, source).Set(0)
	v := 0.0
	if held {
		v = 1
	}
	m.leaseHeld.WithLabelValues(tenant, source).Set(v)
	for _, reason := range []string{sources.HeldFuture, sources.HeldAncient, sources.HeldOutside} {
		m.heldBack.WithLabelValues(tenant, source, reason)
	}
}
