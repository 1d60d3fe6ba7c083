package simapi

import (
	"encoding/binary"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/alertexport/alertexport/sources/apis"
)

// Host is what an API needs of the server that serves it.
type Host struct {
	URL    string           // the server's base URL, "https://127.0.0.1:PORT": nextLinks name it
	Logger *slog.Logger     // one line per request
	Now    func() time.Time // the simulator's clock
	Env    Env              // the pipeline's rate limits and request log
	Seed   int64            // seeds the generators: see TenantRNGs
	Salt   uint64           // random per server: see OpaqueOrder
}

// API is one simulated API as the server mounts it: the server routes its
// paths to it, resolves its rate limits by Name and injects faults through
// its tenants' fault plans.
type API interface {
	// Facts is the API's line in the product's API registry: its Name keys its rate limits
	// and Request.API, its Limits are the rate limits Microsoft documents.
	Facts() apis.API
	// Routes registers the API's paths on mux.
	Routes(mux *http.ServeMux)
	// FaultPlan is the fault plan of tenantID, whose store is created on
	// first use.
	FaultPlan(tenantID string) *FaultPlan
}

// TenantRNGs returns the seeded generators of one tenant of one API part:
// one for its alerts and one for its random faults, separate so that faults
// do not shift the alerts. They derive from Seed, the lower-case tenant ID
// and api, a constant per API part (0 for Defender for Endpoint), so that
// each part draws its own sequence.
func (h Host) TenantRNGs(api uint64, key string) (alerts, faults *rand.Rand) {
	f := fnv.New64a()
	f.Write([]byte(key))
	ts := f.Sum64()
	seed := uint64(h.Seed) ^ api
	return rand.New(rand.NewPCG(seed, ts)), rand.New(rand.NewPCG(seed^0x9e3779b97f4a7c15, ts))
}

// OpaqueOrder is the position of an alert in answers whose order Microsoft
// does not document: a hash of the alert id salted per server. It is stable
// across requests while the set is unchanged, so skip-based pages over an
// unchanged set fit together, but uncorrelated with time and id, so a
// client that depends on any order fails here.
func (h Host) OpaqueOrder(id string) uint64 {
	f := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], h.Salt)
	f.Write(b[:])
	f.Write([]byte(id))
	return f.Sum64()
}
