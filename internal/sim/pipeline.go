package sim

import (
	"net/http"

	"github.com/alertexport/alertexport/internal/sim/simapi"
)

// runAPI serves r through the request pipeline with the server's limits and
// request log.
func runAPI[E simapi.Error](s *Server, w http.ResponseWriter, r *http.Request, call simapi.Call[E]) {
	simapi.Run(simapi.Env{Limits: s.rateLimits, Record: s.logAPIRequest}, w, r, call)
}
