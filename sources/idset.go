package sources

import (
	"hash/maphash"
	"time"
)

// IDSet is the set of alert IDs one poll has exported, which decides an alert's event (created
// or updated) after the checkpoint's Seen has forgotten it. A backlog poll can export millions:
// each ID is kept as a 64-bit hash, about 10 bytes instead of 60–90 for the string in a map.
// Two IDs that share a hash (odds about n²/2⁶⁵: 3·10⁻¹⁰ for 100,000 alerts) would make one
// alert's first version "updated"; nothing is lost or doubled by it.
type IDSet struct {
	seed maphash.Seed
	m    map[uint64]struct{}
}

// NewIDSet returns an empty set.
func NewIDSet() *IDSet {
	return &IDSet{seed: maphash.MakeSeed(), m: map[uint64]struct{}{}}
}

// Add puts id in the set.
func (s *IDSet) Add(id string) { s.m[maphash.String(s.seed, id)] = struct{}{} }

// Has reports whether id is in the set.
func (s *IDSet) Has(id string) bool {
	_, ok := s.m[maphash.String(s.seed, id)]
	return ok
}

// Len is the number of IDs in the set.
func (s *IDSet) Len() int { return len(s.m) }

// VersionSet is the set of alert versions (ID, time) one pass has taken in, kept as 64-bit
// hashes like IDSet, for a pass that must recognize any version it met again but need not list
// them (a checkpoint keeps only the lookback's, in Seen).
type VersionSet struct{ ids IDSet }

// NewVersionSet returns an empty set.
func NewVersionSet() *VersionSet { return &VersionSet{ids: *NewIDSet()} }

func (s *VersionSet) key(id string, t time.Time) uint64 {
	// The ID's hash, mixed with the time (a 64-bit multiplicative hash of it).
	return maphash.String(s.ids.seed, id) ^ uint64(Nanos(t))*0x9e3779b97f4a7c15
}

// Add puts version t of alert id in the set.
func (s *VersionSet) Add(id string, t time.Time) { s.ids.m[s.key(id, t)] = struct{}{} }

// Has reports whether version t of alert id is in the set.
func (s *VersionSet) Has(id string, t time.Time) bool {
	_, ok := s.ids.m[s.key(id, t)]
	return ok
}
