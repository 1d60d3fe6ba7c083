package worker

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves /healthz (the process is up and its NATS connection is not closed for good),
// /readyz (Ready) and /metrics (Prometheus). It is built once.
func (w *Worker) Handler() http.Handler {
	w.handlerOnce.Do(func() { w.handler = w.newHandler() })
	return w.handler
}

func (w *Worker) newHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := w.closed(); err != nil {
			// The process cannot recover by itself: a liveness probe should restart it.
			rw.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(rw, err)
			return
		}
		fmt.Fprintln(rw, "ok")
	})
	mux.HandleFunc("GET /readyz", func(rw http.ResponseWriter, _ *http.Request) {
		ok, why := w.Ready()
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ok {
			rw.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(rw, why)
	})
	reg := w.o.Metrics.Registry
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return mux
}
