package envelope

import (
	"unicode"
	"unicode/utf8"
)

// What keeps EntitySet.Add linear once an alert has many entities: indexes by type and
// identifier that answer "which is the first entity that same() calls the same as this one"
// without comparing with each. The answer must be exactly the scan's, for every input: same()
// is an OR of conditions, so the first match is the smallest of each condition's first match,
// and each condition has an index that holds exactly the entities that meet it.
//
// merge only ever fills empty fields, so an entity gains identifiers and never changes one it
// has. Most identifiers are therefore kept for good once an entity has them (single and
// first: the first entity holding each). Three conditions can stop holding for an entity when a merge fills a
// field, and are indexed as "held" (a min-heap by position, stale entries skipped):
//   - device, app, group, policy: a name matches an entity with an id only while one of the two
//     has none — an entity leaves "name, no id" when it gains an id;
//   - user, mailbox: name and domain must both match, "" matching only "" — an entity leaves
//     "name, no domain" when it gains a domain;
//   - file without hashes: path + `\` + name, which changes when a merge fills an empty path or
//     name with one that still compares equal (path `\share` and name `f` against no path and
//     name `share\f`).
//
// An entity is in at most one held index at a time; gen counts its moves, so that its entries
// in indexes it left are recognised as stale.

// linearMax is how many entities Add compares with one by one before it builds the indexes:
// an alert has a handful, and for up to about 200 realistic entities comparing with each
// costs less than keeping maps (measured with realisticEntities of the tests).
const linearMax = 128

type entityClass uint8

const (
	classOther  entityClass = iota
	classDevice             // device, app, group, policy: id, or name when one side has no id
	classUser               // user, mailbox: sid, aad_id, upn, or name and domain
	classFile
	classProcess
	classIP
	classURL
)

// classOf is the class of typ and its code, which tells apart the types of one class.
func classOf(typ string) (entityClass, uint8) {
	switch typ {
	case "device":
		return classDevice, 0
	case "app":
		return classDevice, 1
	case "group":
		return classDevice, 2
	case "policy":
		return classDevice, 3
	case "user":
		return classUser, 0
	case "mailbox":
		return classUser, 1
	case "file":
		return classFile, 0
	case "process":
		return classProcess, 0
	case "ip":
		return classIP, 0
	case "url":
		return classURL, 0
	}
	return classOther, 0
}

type keyKind uint8

const (
	kID           keyKind = iota // classDevice: id, folded
	kName                        // classDevice: name, folded (any entity)
	kNameNoID                    // classDevice, held: name, folded, of an entity without an id
	kSID                         // classUser: folded
	kAADID                       // classUser: folded
	kUPN                         // classUser: folded
	kNameDomain                  // classUser: name and a non-empty domain, folded
	kNameNoDomain                // classUser, held: name, folded, of an entity without a domain
	kSHA256                      // file: folded
	kSHA1                        // file: folded
	kPathName                    // file, held: path + `\` + name, folded, of a file without hashes
	kProcess                     // process: pid, command line and path, exact
	kAddress                     // ip: folded
	kURL                         // url: exact
	kExactID                     // any other type: id, exact
	numKinds
)

// entityKey is one identifier of one type. typ is the code of a type with fixed rules (classOf;
// kind tells the class); another type's name is in b, with its id in a. An identifier of one
// string is only kind, typ and a.
type entityKey struct {
	kind keyKind
	typ  uint8
	a, b string
	pid  int64
}

type heldEntry struct {
	i   int
	gen uint32
}

type entityIndex struct {
	// Identifiers kept for good: the first entity holding each. One string (most): in a map
	// of strings per kind and type code (slot), which hashes faster than the struct; the
	// others (name and domain, process, another type's id) in first.
	single [numKinds * 4]map[string]int
	first  map[entityKey]int
	held   [numKinds * 4]map[string][]heldEntry // identifiers an entity can lose: min-heaps by position
	gen    []uint32                             // per entity: bumped when it leaves its held index
	whole  map[Entity]int                       // other types without an id: compared as a whole
}

// slot is where the identifiers of one string of this kind and type code have their map in
// single and held.
func slot(kind keyKind, t uint8) int { return int(kind)*4 + int(t) }

func newEntityIndex(list []Entity) *entityIndex {
	x := &entityIndex{
		first: make(map[entityKey]int),
		whole: make(map[Entity]int),
	}
	for i := range list {
		x.index(&list[i], i, nil)
	}
	return x
}

// earliest is the smallest of the positions that are not -1, or -1.
func earliest(is ...int) int {
	best := -1
	for _, i := range is {
		if i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}

// firstBy is the first entity whose identifier of this kind (one string) is v, or -1; -1 too
// for an empty v, which identifies nothing.
func (x *entityIndex) firstBy(kind keyKind, t uint8, v string) int {
	if v != "" {
		if i, ok := x.single[slot(kind, t)][v]; ok {
			return i
		}
	}
	return -1
}

// firstOf is the first entity holding k, an identifier of more than one string, or -1.
func (x *entityIndex) firstOf(k entityKey) int {
	if i, ok := x.first[k]; ok {
		return i
	}
	return -1
}

// find is the position of the first entity same(entity, b) holds for, or -1: the earliest of
// the first entities meeting each of same's conditions.
func (x *entityIndex) find(b *Entity) int {
	class, t := classOf(b.Type)
	switch class {
	case classDevice:
		if b.ID == "" {
			return x.firstBy(kName, t, fold(b.Name))
		}
		byName := -1
		if b.Name != "" {
			byName = x.front(entityKey{typ: t, kind: kNameNoID, a: fold(b.Name)})
		}
		return earliest(x.firstBy(kID, t, fold(b.ID)), byName)
	case classUser:
		byName := -1
		if b.Name != "" && b.Domain != "" {
			byName = x.firstOf(entityKey{typ: t, kind: kNameDomain, a: fold(b.Name), b: fold(b.Domain)})
		} else if b.Name != "" {
			byName = x.front(entityKey{typ: t, kind: kNameNoDomain, a: fold(b.Name)})
		}
		return earliest(x.firstBy(kSID, t, fold(b.SID)), x.firstBy(kAADID, t, fold(b.AADID)),
			x.firstBy(kUPN, t, fold(b.UPN)), byName)
	case classFile:
		if b.SHA1 == "" && b.SHA256 == "" {
			return x.front(entityKey{typ: t, kind: kPathName, a: fold(b.Path + `\` + b.Name)})
		}
		return earliest(x.firstBy(kSHA256, t, fold(b.SHA256)), x.firstBy(kSHA1, t, fold(b.SHA1)))
	case classProcess:
		if b.PID == nil {
			return -1
		}
		return x.firstOf(entityKey{typ: t, kind: kProcess, a: b.CommandLine, b: b.Path, pid: *b.PID})
	case classIP:
		return x.firstBy(kAddress, t, fold(b.Address))
	case classURL:
		return x.firstBy(kURL, t, b.URL)
	}
	// Any other type: the same id, or (without one) the same everything: with an id, the same
	// everything is the same id.
	if b.ID != "" {
		return x.firstOf(entityKey{kind: kExactID, a: b.ID, b: b.Type})
	}
	if i, ok := x.whole[*b]; ok {
		return i
	}
	return -1
}

// index records entity e at position i: a new one, the last (was nil), or one a merge changed
// from was. e's identifiers kept for good are all added: add keeps the first entity holding
// each, so the ones e already had change nothing.
func (x *entityIndex) index(e *Entity, i int, was *Entity) {
	class, t := classOf(e.Type)
	switch class {
	case classDevice:
		x.addBy(kID, t, fold(e.ID), i)
		x.addBy(kName, t, fold(e.Name), i)
	case classUser:
		x.addBy(kSID, t, fold(e.SID), i)
		x.addBy(kAADID, t, fold(e.AADID), i)
		x.addBy(kUPN, t, fold(e.UPN), i)
		if e.Name != "" && e.Domain != "" {
			x.add(entityKey{typ: t, kind: kNameDomain, a: fold(e.Name), b: fold(e.Domain)}, i)
		}
	case classFile:
		x.addBy(kSHA256, t, fold(e.SHA256), i)
		x.addBy(kSHA1, t, fold(e.SHA1), i)
	case classProcess:
		if e.PID != nil {
			x.add(entityKey{typ: t, kind: kProcess, a: e.CommandLine, b: e.Path, pid: *e.PID}, i)
		}
	case classIP:
		x.addBy(kAddress, t, fold(e.Address), i)
	case classURL:
		x.addBy(kURL, t, e.URL, i)
	default:
		if e.ID != "" {
			x.add(entityKey{kind: kExactID, a: e.ID, b: e.Type}, i)
		}
		// Without an id, an entity merges only with its equal, which changes nothing: its
		// whole value is its key for good.
		if was == nil && e.ID == "" {
			if _, ok := x.whole[*e]; !ok {
				x.whole[*e] = i
			}
		}
	}

	// The held identifier: it moves only if the merge changed it.
	k, ok := heldKey(e)
	if was == nil {
		x.gen = append(x.gen, 0)
	} else {
		if k0, ok0 := heldKey(was); ok0 == ok && k0 == k {
			return
		}
		x.gen[i]++ // its entries where it was are stale
	}
	if ok {
		x.push(k, heldEntry{i: i, gen: x.gen[i]})
	}
}

// heldKey is the identifier of e that a merge can take away, if it has one.
func heldKey(e *Entity) (entityKey, bool) {
	class, t := classOf(e.Type)
	switch class {
	case classDevice:
		if e.ID == "" && e.Name != "" {
			return entityKey{typ: t, kind: kNameNoID, a: fold(e.Name)}, true
		}
	case classUser:
		if e.Name != "" && e.Domain == "" {
			return entityKey{typ: t, kind: kNameNoDomain, a: fold(e.Name)}, true
		}
	case classFile:
		if e.SHA1 == "" && e.SHA256 == "" {
			return entityKey{typ: t, kind: kPathName, a: fold(e.Path + `\` + e.Name)}, true
		}
	}
	return entityKey{}, false
}

// addBy records that entity i holds identifier v of this kind (one string) for good; an
// empty v is none.
func (x *entityIndex) addBy(kind keyKind, t uint8, v string, i int) {
	if v == "" {
		return
	}
	m := x.single[slot(kind, t)]
	if m == nil {
		m = make(map[string]int)
		x.single[slot(kind, t)] = m
	}
	if j, ok := m[v]; !ok || i < j {
		m[v] = i
	}
}

// add records that entity i holds k, an identifier of more than one string, for good.
func (x *entityIndex) add(k entityKey, i int) {
	if j, ok := x.first[k]; !ok || i < j {
		x.first[k] = i
	}
}

// push adds an entry to k's held index (a min-heap by position). Entities are mostly added
// in order, so the entry usually stays where it is appended.
func (x *entityIndex) push(k entityKey, e heldEntry) {
	m := x.held[slot(k.kind, k.typ)]
	if m == nil {
		m = make(map[string][]heldEntry)
		x.held[slot(k.kind, k.typ)] = m
	}
	h := append(m[k.a], e)
	for c := len(h) - 1; c > 0; {
		p := (c - 1) / 2
		if h[p].i <= h[c].i {
			break
		}
		h[p], h[c] = h[c], h[p]
		c = p
	}
	m[k.a] = h
}

// front is the first entity that still holds k, or -1; stale entries on the way are dropped.
func (x *entityIndex) front(k entityKey) int {
	m := x.held[slot(k.kind, k.typ)]
	h := m[k.a]
	for len(h) > 0 && x.gen[h[0].i] != h[0].gen {
		h = popHeld(h)
		m[k.a] = h
	}
	if len(h) == 0 {
		return -1
	}
	return h[0].i
}

func popHeld(h []heldEntry) []heldEntry {
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for p := 0; ; {
		c := 2*p + 1
		if c >= n {
			break
		}
		if c+1 < n && h[c+1].i < h[c].i {
			c++
		}
		if h[p].i <= h[c].i {
			break
		}
		h[p], h[c] = h[c], h[p]
		p = c
	}
	return h
}

// fold is s in a form where fold(x) == fold(y) exactly when strings.EqualFold(x, y): each rune
// (an invalid byte read as U+FFFD, as EqualFold reads it) replaced by one chosen member of its
// simple case-folding orbit. strings.ToLower(strings.ToUpper(s)) is not that: it makes "İ"
// and "i" equal, which EqualFold does not (TestFoldAgreesWithEqualFold).
func fold(s string) string {
	i := 0
	for ; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			break
		}
	}
	if i == len(s) {
		return s // ASCII without capitals: already in its folded form
	}
	b := make([]byte, i, len(s)+4)
	copy(b, s[:i])
	for _, r := range s[i:] {
		b = utf8.AppendRune(b, foldRune(r))
	}
	return string(b)
}

// foldRune is the member of r's simple case-folding orbit that stands for all of it: the
// lower-case ASCII letter if the orbit has one (so that ASCII text without capitals is its own
// folded form: "k" for K, k and the Kelvin sign), else the orbit's smallest rune.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	if 'A' <= m && m <= 'Z' {
		m += 'a' - 'A'
	}
	return m
}
