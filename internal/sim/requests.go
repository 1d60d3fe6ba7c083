package sim

import (
	"slices"
	"sync"
	"time"

	"github.com/alertexport/alertexport/internal/sim/simapi"
)

// apiLog is every API request, in the order they finished.
type apiLog struct {
	mu   sync.Mutex
	reqs []simapi.Request
}

func (s *Server) logAPIRequest(r simapi.Request) {
	r.Done = time.Now()
	s.apiLog.mu.Lock()
	defer s.apiLog.mu.Unlock()
	s.apiLog.reqs = append(s.apiLog.reqs, r)
}

// APIRequests returns every API request so far, in the order they finished.
func (s *Server) APIRequests() []simapi.Request {
	s.apiLog.mu.Lock()
	defer s.apiLog.mu.Unlock()
	return slices.Clone(s.apiLog.reqs)
}
