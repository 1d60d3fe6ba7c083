package worker

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestHealthFailsWhenNATSIsClosedForGood: /healthz is 200 while the NATS connection lives,
// even disconnected (it comes back by itself), and 503 with the reason once it is closed for
// good, when only a restart helps; /readyz too.
func TestHealthFailsWhenNATSIsClosedForGood(t *testing.T) {
	t.Parallel()
	sink, kv, _ := setupJS(t)
	var connected atomic.Bool
	var closed atomic.Pointer[error]
	w, err := New(Options{Jobs: []Job{{Tenant: "contoso", Source: "endpoint", Schedule: every(t, "@every 1m"), Poller: &script{}}},
		Sink: sink, Store: kv, Connected: connected.Load, Closed: func() error {
			if e := closed.Load(); e != nil {
				return *e
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		w.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := get("/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz while disconnected = %d %q, want 200 ok", code, body)
	}
	why := errors.New("the NATS connection is closed for good (nats: maximum control line exceeded)")
	closed.Store(&why)
	connected.Store(false)
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := get(path); code != http.StatusServiceUnavailable || !strings.Contains(body, "maximum control line exceeded") {
			t.Errorf("%s once closed for good = %d %q, want 503 with the reason", path, code, body)
		}
	}
}

// TestHealthBeforeTheWorker: before the worker runs (NATS, the stream or the store not there
// yet) /healthz is ok and /readyz is not, and /metrics says NATS is not connected; a connection
// closed for good fails both probes; once attached, the worker answers /readyz.
func TestHealthBeforeTheWorker(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	var connected atomic.Bool
	m.SetConnected(connected.Load)
	var closed atomic.Pointer[error]
	h := NewHealth(m, func() error {
		if e := closed.Load(); e != nil {
			return *e
		}
		return nil
	})
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := get("/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "waiting for NATS") {
		t.Errorf("/readyz = %d %q", code, body)
	}
	if code, body := get("/metrics"); code != http.StatusOK || !strings.Contains(body, "\nalertexport_nats_connected 0\n") {
		t.Errorf("/metrics = %d, want 200 with alertexport_nats_connected 0:\n%s", code, body)
	}
	if code, _ := get("/nothing"); code != http.StatusNotFound {
		t.Errorf("/nothing = %d, want 404", code)
	}

	sink, kv, _ := setupJS(t)
	connected.Store(true)
	w, err := New(Options{Jobs: []Job{{Tenant: "contoso", Source: "endpoint", Schedule: every(t, "@every 1m"), Poller: &script{}}},
		Sink: sink, Store: kv, Metrics: m, Connected: connected.Load})
	if err != nil {
		t.Fatal(err)
	}
	h.Attach(w)
	if code, body := get("/readyz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/readyz once the worker is attached = %d %q", code, body)
	}

	why := errors.New("the NATS connection is closed for good (nats: maximum control line exceeded)")
	closed.Store(&why)
	if code, body := get("/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "maximum control line exceeded") {
		t.Errorf("/healthz once closed for good = %d %q", code, body)
	}
}

// TestHealthClosedBeforeTheWorker: a connection closed for good before the worker runs fails
// both probes with the reason.
func TestHealthClosedBeforeTheWorker(t *testing.T) {
	t.Parallel()
	why := errors.New("nats: maximum control line exceeded")
	h := NewHealth(NewMetrics(), func() error { return why })
	for _, path := range []string{"/healthz", "/readyz"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "maximum control line exceeded") {
			t.Errorf("%s once closed for good = %d %q", path, rec.Code, rec.Body.String())
		}
	}
}
