package worker

import (
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Health serves /healthz, /readyz and /metrics for a process's whole life: before its worker
// runs (NATS, the stream or the store not there yet) and once it does (Attach). Before,
// /readyz fails ("waiting for NATS") and /healthz answers "ok", so that a liveness probe does
// not restart a process waiting for NATS — unless the connection is closed for good. /metrics
// answers throughout: alertexport_nats_connected 0 is what an alert rule needs to see then.
type Health struct {
	closed func() error
	worker atomic.Pointer[Worker]
	mux    *http.ServeMux
}

// NewHealth returns the endpoints of m; closed is non-nil once the NATS connection is closed
// for good, and says why (nil = never).
func NewHealth(m *Metrics, closed func() error) *Health {
	if closed == nil {
		closed = func() error { return nil }
	}
	h := &Health{closed: closed, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := h.closed(); err != nil {
			// The process cannot recover by itself: a liveness probe should restart it.
			rw.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(rw, err)
			return
		}
		fmt.Fprintln(rw, "ok")
	})
	h.mux.HandleFunc("GET /readyz", func(rw http.ResponseWriter, _ *http.Request) {
		ok, why := h.ready()
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ok {
			rw.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(rw, why)
	})
	h.mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry}))
	return h
}

// Attach makes w's Ready answer /readyz from now on.
func (h *Health) Attach(w *Worker) { h.worker.Store(w) }

func (h *Health) ready() (bool, string) {
	if w := h.worker.Load(); w != nil {
		return w.Ready()
	}
	if err := h.closed(); err != nil {
		return false, err.Error()
	}
	return false, "waiting for NATS"
}

func (h *Health) ServeHTTP(rw http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(rw, r) }

// Handler serves /healthz (the process is up and its NATS connection is not closed for good),
// /readyz (Ready) and /metrics (Prometheus). It is built once.
func (w *Worker) Handler() http.Handler {
	w.handlerOnce.Do(func() {
		h := NewHealth(w.o.Metrics, w.closed)
		h.Attach(w)
		w.handler = h
	})
	return w.handler
}
