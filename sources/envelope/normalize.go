package envelope

import (
	"slices"
	"strings"
	"time"
)

// What the sources' normalizers share: the mappings every API needs the same way, so that the
// same alert reads the same whichever source exported it.

// NormalizeSeverity maps an API's severity name (Informational, Low, Medium, High, in any case);
// anything else — UnSpecified, unknown, unknownFutureValue, a value added later — is unknown,
// never a failure.
func NormalizeSeverity(s string) string {
	if v := Lower(s, SeverityInformational, SeverityLow, SeverityMedium, SeverityHigh); v != "" {
		return v
	}
	return SeverityUnknown
}

// NormalizeStatus maps an API's status name (New, InProgress, Resolved, in any case); anything
// else is unknown. Neither Defender for Endpoint nor Graph has a dismissed status.
func NormalizeStatus(s string) string {
	switch v := Lower(s, StatusNew, "inprogress", StatusInProgress, StatusResolved); v {
	case "":
		return StatusUnknown
	case "inprogress":
		return StatusInProgress
	default:
		return v
	}
}

// Lower is strings.ToLower(s) when that is one of known (each in lower case), else "" — without
// the allocation of ToLower for the few names that an API sends in every alert (High, New,
// Process, …).
func Lower(s string, known ...string) string {
	ascii := true
	for i := range len(s) {
		if s[i] >= 0x80 {
			ascii = false // ToLower may change its length (K, the Kelvin sign, is "k")
			break
		}
	}
	if !ascii {
		if l := strings.ToLower(s); slices.Contains(known, l) {
			return l
		}
		return ""
	}
	for _, k := range known {
		if len(k) == len(s) && asciiEqualLower(s, k) {
			return k
		}
	}
	return ""
}

// asciiEqualLower reports whether the ASCII s in lower case is lower.
func asciiEqualLower(s, lower string) bool {
	for i := range len(s) {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// SnakeCaseOrNull is SnakeCase of an optional enum value: null (and "") stay null.
func SnakeCaseOrNull(p *string) *string {
	if p == nil || *p == "" {
		return nil
	}
	s := SnakeCase(*p)
	return &s
}

// UTC is an optional time in UTC, at the precision it came with: t itself when it is in UTC
// already (neither is changed after).
func UTC(t *time.Time) *time.Time {
	if t == nil || t.Location() == time.UTC {
		return t // most API times are written in UTC already: no copy to make
	}
	u := t.UTC()
	return &u
}

// Techniques keeps the MITRE ATT&CK IDs in order, once each; never null, so consumers can
// iterate without a check.
func Techniques(in []string) []string {
	out := make([]string, 0, len(in))
	for _, t := range in {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// MaxEntities is the most entities an envelope lists (docs/messages.md, "entities"): past it, the
// first ones are kept, in order, and raw still has every evidence item. An alert names a handful of
// things; 1,000 distinct ones is far past any seen. Typical entities are 50–250 bytes of JSON (a
// process with a long command line more), so 1,000 of them are about 200 KB, a fifth of NATS's
// default max_payload of 1 MiB, which leaves the rest for raw and the other fields.
const MaxEntities = 1000

// EntitySet de-duplicates an alert's entities: two entities of one type that share an
// identifier are one, the first one's values winning and the second filling its gaps (a user
// named by a device and by the evidence is one entity with what both say). An entity merges
// into the first one it is the same as (same), in the order added. The zero value is empty
// and ready to use.
//
// Add costs about the same for each entity however many there are (an alert can carry tens
// of thousands of evidence items): past linearMax entities the set finds the one it is the
// same as through indexes by type and identifier (entityindex.go) instead of comparing with
// each, with the same result.
type EntitySet struct {
	list     []Entity
	idx      *entityIndex // nil up to linearMax entities
	compared int          // same() calls so far, which TestEntitySetAddIsLinear holds to linearMax an Add
}

// Grow makes room for n more entities (up to linearMax), so that a source that knows how many
// it will add allocates the list once instead of doubling it up from one.
func (s *EntitySet) Grow(n int) {
	s.list = slices.Grow(s.list, min(n, linearMax))
}

// Add adds e, or merges it into the first entity it is the same as.
func (s *EntitySet) Add(e Entity) {
	if s.idx != nil {
		s.addIndexed(&e)
		return
	}
	for i := range s.list {
		if same(&s.list[i], &e) {
			merge(&s.list[i], &e)
			s.compared += i + 1
			return
		}
	}
	s.compared += len(s.list)
	s.list = append(s.list, e)
	if len(s.list) > linearMax {
		s.idx = newEntityIndex(s.list)
	}
}

// addIndexed is Add past linearMax entities. (Apart, so that the scan's frame stays small:
// every alert goes through it.)
func (s *EntitySet) addIndexed(e *Entity) {
	if i := s.idx.find(e); i >= 0 {
		was := s.list[i]
		merge(&s.list[i], e)
		if s.list[i] != was {
			s.idx.index(&s.list[i], i, &was)
		}
		return
	}
	if len(s.list) == cap(s.list) {
		// Double: append grows a long slice by a quarter, which copies a big alert's entities
		// about five times over.
		s.list = slices.Grow(s.list, len(s.list))
	}
	s.list = append(s.list, *e)
	s.idx.index(&s.list[len(s.list)-1], len(s.list)-1, nil)
}

// List is the entities in the order first added; never null.
func (s *EntitySet) List() []Entity {
	if s.list == nil {
		return []Entity{}
	}
	return s.list
}

func same(a, b *Entity) bool {
	if a.Type != b.Type {
		return false
	}
	eq := func(x, y string) bool { return x != "" && strings.EqualFold(x, y) }
	switch a.Type {
	case "device":
		return eq(a.ID, b.ID) || (a.ID == "" || b.ID == "") && eq(a.Name, b.Name)
	case "user", "mailbox":
		return eq(a.SID, b.SID) || eq(a.AADID, b.AADID) || eq(a.UPN, b.UPN) ||
			eq(a.Name, b.Name) && strings.EqualFold(a.Domain, b.Domain)
	case "file":
		return eq(a.SHA256, b.SHA256) || eq(a.SHA1, b.SHA1) ||
			a.SHA1 == "" && b.SHA1 == "" && a.SHA256 == "" && b.SHA256 == "" && eq(a.Path+`\`+a.Name, b.Path+`\`+b.Name)
	case "process":
		return a.PID != nil && b.PID != nil && *a.PID == *b.PID && a.CommandLine == b.CommandLine && a.Path == b.Path
	case "ip":
		return eq(a.Address, b.Address)
	case "url":
		return a.URL != "" && a.URL == b.URL
	case "app", "group", "policy":
		return eq(a.ID, b.ID) || (a.ID == "" || b.ID == "") && eq(a.Name, b.Name)
	}
	// Any other type: the same id (IDs of other types are opaque: compared exactly), or the
	// same everything.
	return a.ID != "" && a.ID == b.ID || *a == *b
}

func merge(dst, src *Entity) {
	fill := func(d *string, s string) {
		if *d == "" {
			*d = s
		}
	}
	fill(&dst.Name, src.Name)
	fill(&dst.ID, src.ID)
	fill(&dst.Domain, src.Domain)
	fill(&dst.UPN, src.UPN)
	fill(&dst.SID, src.SID)
	fill(&dst.AADID, src.AADID)
	fill(&dst.Address, src.Address)
	fill(&dst.URL, src.URL)
	fill(&dst.Path, src.Path)
	fill(&dst.SHA1, src.SHA1)
	fill(&dst.SHA256, src.SHA256)
	fill(&dst.CommandLine, src.CommandLine)
	fill(&dst.ParentName, src.ParentName)
	fill(&dst.PolicyType, src.PolicyType)
	fill(&dst.Key, src.Key)
	fill(&dst.Hive, src.Hive)
	fill(&dst.ValueType, src.ValueType)
	fill(&dst.Value, src.Value)
	if dst.PID == nil {
		dst.PID = src.PID
	}
	if dst.ParentPID == nil {
		dst.ParentPID = src.ParentPID
	}
}
