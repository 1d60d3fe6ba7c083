package envelope

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// refEntitySet is EntitySet as it was before the indexes: every Add compares with each entity
// so far. It is the definition the indexed set must match exactly, entity for entity.
type refEntitySet struct{ list []Entity }

func (s *refEntitySet) Add(e Entity) {
	for i := range s.list {
		if refSame(&s.list[i], &e) {
			refMerge(&s.list[i], &e)
			return
		}
	}
	s.list = append(s.list, e)
}

func refSame(a, b *Entity) bool {
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
	return a.ID != "" && a.ID == b.ID || *a == *b
}

func refMerge(dst, src *Entity) {
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

// checkSameAsScan adds in to the reference, to an EntitySet as used (scanning, then indexed past
// linearMax) and to one indexed from the first entity, and fails unless all three hold the
// same entities in the same order with the same values (pointers included: == on Entity).
func checkSameAsScan(t *testing.T, in []Entity) {
	t.Helper()
	var ref refEntitySet
	var used EntitySet
	indexed := EntitySet{idx: newEntityIndex(nil)}
	for _, e := range in {
		ref.Add(e)
		used.Add(e)
		indexed.Add(e)
	}
	for name, s := range map[string]*EntitySet{"as used": &used, "indexed from the start": &indexed} {
		got := s.List()
		if len(got) != len(ref.list) {
			t.Fatalf("%s: %d entities, the scan %d\ninput: %s", name, len(got), len(ref.list), show(in))
		}
		for i := range got {
			if got[i] != ref.list[i] {
				t.Fatalf("%s: entity %d is %s, the scan's %s\ninput: %s", name, i, show1(got[i]), show1(ref.list[i]), show(in))
			}
		}
	}
}

func show1(e Entity) string {
	s := fmt.Sprintf("%+v", e)
	if e.PID != nil {
		s += fmt.Sprintf(" pid=%d@%p", *e.PID, e.PID)
	}
	return s
}

func show(in []Entity) string {
	if len(in) > 40 {
		return strconv.Itoa(len(in)) + " entities"
	}
	var b strings.Builder
	for _, e := range in {
		b.WriteString("\n  " + show1(e))
	}
	return b.String()
}

// TestEntitySetMatchesScanOnKnownCases: the conditions an entity can stop meeting, or start
// meeting, when a merge fills one of its fields — where an index kept naively would answer
// differently from the scan.
func TestEntitySetMatchesScanOnKnownCases(t *testing.T) {
	one, two := new(int64(1)), new(int64(2))
	otherOne := new(int64(1))
	cases := map[string][]Entity{
		"a device named without an id matches one with an id until it gains one": {
			{Type: "device", Name: "h"},
			{Type: "device", Name: "H", ID: "1"}, // merges: the first gains id 1
			{Type: "device", Name: "h", ID: "2"}, // no longer the same as the first: a new one
			{Type: "device", Name: "h"},          // the first again
			{Type: "device", Name: "h", ID: "3"}, // neither (both have ids): new
		},
		"a device gains a name through its id, then matches by name": {
			{Type: "device", ID: "1"},
			{Type: "device", Name: "x"},
			{Type: "device", ID: "1", Name: "h"},
			{Type: "device", Name: "H"}, // the first, not a new one
		},
		"a user loses its empty domain": {
			{Type: "user", Name: "jdoe", SID: "s1"},
			{Type: "user", Name: "JDOE"},                     // same name, both without domain: first
			{Type: "user", SID: "S1", Domain: "contoso"},     // the first gains the domain
			{Type: "user", Name: "jdoe"},                     // no longer matches the first: new
			{Type: "user", Name: "jdoe", Domain: "CONTOSO"},  // the first
			{Type: "user", Name: "jdoe", Domain: "fabrikam"}, // new
		},
		"a user gains a name after a later one had it": {
			{Type: "mailbox", UPN: "a@x"},
			{Type: "mailbox", Name: "a"},
			{Type: "mailbox", UPN: "A@X", Name: "a"}, // the first (by upn), which gains the name
			{Type: "mailbox", Name: "A"},             // the first, not the second
		},
		"a file whose filled path changes its path-and-name key": {
			{Type: "file", Name: `share\f`},                 // key \share\f
			{Type: "file", Path: `\share`, Name: "f"},       // same key: the first gains the path → \share\share\f
			{Type: "file", Name: `share\f`},                 // no longer the first's key: new
			{Type: "file", Path: `\share\share`, Name: "F"}, // the first's new key
		},
		"a file with hashes never matches by path": {
			{Type: "file", Path: "c", Name: "x", SHA1: "AB"},
			{Type: "file", Path: "c", Name: "x"},
			{Type: "file", Path: "c", Name: "x", SHA256: "ff"},
			{Type: "file", Name: "y", SHA1: "ab", SHA256: "FF"}, // both: the first by sha1, earlier than the third
		},
		"processes match on pid, command line and path exactly": {
			{Type: "process", PID: one, CommandLine: "a"},
			{Type: "process", PID: otherOne, CommandLine: "a", Name: "n"},
			{Type: "process", PID: one, CommandLine: "A"},
			{Type: "process", PID: two, CommandLine: "a"},
			{Type: "process", CommandLine: "a"},
			{Type: "process", CommandLine: "a"},
		},
		"another type: the same id exactly, or the same everything": {
			{Type: "registry", Key: "k"},
			{Type: "registry", Key: "k"},
			{Type: "registry", Key: "K"},
			{Type: "mail_message", ID: "m", Name: "a"},
			{Type: "mail_message", ID: "M"},
			{Type: "mail_message", ID: "m", Value: "v"},
			{Type: "mail_message", Name: "a"},
			{Type: "mail_message", Name: "a"},
			{Type: "registry", Key: "k", PID: one},
			{Type: "registry", Key: "k", PID: otherOne}, // another pointer: not equal as a whole
		},
		"case folding is EqualFold's": {
			{Type: "ip", Address: "k"},
			{Type: "ip", Address: "\u212a"}, // Kelvin sign
			{Type: "ip", Address: "ß"},
			{Type: "ip", Address: "ẞ"},
			{Type: "ip", Address: "SS"},
			{Type: "ip", Address: "İ"},
			{Type: "ip", Address: "i"},
			{Type: "ip", Address: "ı"},
			{Type: "ip", Address: "\xff"},
			{Type: "ip", Address: "\ufffd"},
			{Type: "url", URL: "http://A"},
			{Type: "url", URL: "http://a"},
		},
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) { checkSameAsScan(t, in) })
	}
}

// collider builds entities meant to collide: few distinct values, case and Unicode fold
// variants, empty fields, backslashes, invalid UTF-8 and PID pointers that are equal in value
// but not in identity.
type collider struct {
	next   func() byte
	values []string
}

var (
	colliderTypes = []string{"device", "app", "group", "policy", "user", "mailbox", "file", "process", "ip", "url", "registry", "mail_message", ""}
	colliderPool  = []string{"a", "A", "k", "K", "\u212a", "ß", "ẞ", "ss", "İ", "i", "ı", "\xff", "\ufffd", `\`, `a\b`, `\a`, `b`, "ſ", "s"}
	colliderPIDs  = []*int64{new(int64(1)), new(int64(1)), new(int64(2))}
)

func newCollider(next func() byte) *collider {
	// A few values per input, so that fields often match.
	n := 2 + int(next())%5
	start := int(next())
	c := &collider{next: next}
	for i := range n {
		c.values = append(c.values, colliderPool[(start+i*int(next()%4+1))%len(colliderPool)])
	}
	return c
}

func (c *collider) str() string {
	b := c.next()
	if b%2 == 0 {
		return ""
	}
	return c.values[int(b/2)%len(c.values)]
}

// sparse is usually empty: fields same() does not read, and ones that make "other" types differ.
func (c *collider) sparse() string {
	if c.next()%5 != 0 {
		return ""
	}
	return c.str()
}

func (c *collider) pid() *int64 {
	b := c.next()
	if b%4 == 0 {
		return nil
	}
	return colliderPIDs[int(b/4)%len(colliderPIDs)]
}

func (c *collider) entity() Entity {
	return Entity{Type: colliderTypes[int(c.next())%len(colliderTypes)],
		Name: c.str(), ID: c.str(), Domain: c.str(), UPN: c.str(), SID: c.str(), AADID: c.str(),
		Address: c.str(), URL: c.str(), Path: c.str(), SHA1: c.sparse(), SHA256: c.sparse(),
		PID: c.pid(), CommandLine: c.str(), ParentPID: c.pid(), ParentName: c.sparse(),
		PolicyType: c.sparse(), Key: c.sparse(), Hive: c.sparse(), ValueType: c.sparse(), Value: c.sparse()}
}

// TestEntitySetMatchesScanOnRandomCollisions: thousands of random inputs built to collide,
// short (the scan alone) and long (indexed past linearMax), give exactly the scan's result.
func TestEntitySetMatchesScanOnRandomCollisions(t *testing.T) {
	runs := 3000
	if testing.Short() {
		runs = 300
	}
	r := rand.New(rand.NewPCG(16, 6))
	next := func() byte { return byte(r.Uint32()) }
	for range runs {
		c := newCollider(next)
		n := r.IntN(3 * linearMax)
		in := make([]Entity, n)
		for i := range in {
			in[i] = c.entity()
		}
		checkSameAsScan(t, in)
	}
}

// FuzzEntitySet: whatever entities the bytes make, the indexed set gives the scan's result.
func FuzzEntitySet(f *testing.F) {
	f.Add([]byte("device user file"))
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
	f.Add([]byte(strings.Repeat("\x06\x01\x03\x05\x07\x09", 60)))
	f.Fuzz(func(t *testing.T, data []byte) {
		pos := 0
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[pos%len(data)] + byte(pos/len(data)) // past the end: the bytes again, shifted
			pos++
			return b
		}
		c := newCollider(next)
		var in []Entity
		for range len(data) / 4 {
			in = append(in, c.entity())
		}
		checkSameAsScan(t, in)
	})
}

// TestFoldAgreesWithEqualFold checks fold against strings.EqualFold for every rune: each rune
// folds to a member of its case-folding orbit that every member folds to, so fold(x) ==
// fold(y) exactly when EqualFold(x, y). Then strings, invalid UTF-8 included.
func TestFoldAgreesWithEqualFold(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		c := foldRune(r)
		if !strings.EqualFold(string(r), string(c)) {
			t.Fatalf("foldRune(%U) = %U, which EqualFold does not call equal", r, c)
		}
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if foldRune(f) != c {
				t.Fatalf("foldRune(%U) = %U but foldRune(%U) = %U: one orbit, two forms", r, c, f, foldRune(f))
			}
		}
	}
	pairs := []struct {
		x, y  string
		equal bool
	}{
		{"host", "HOST", true},
		{"k", "\u212a", true}, // Kelvin sign
		{"s", "ſ", true},      // long s
		{"ß", "ẞ", true},
		{"ß", "ss", false},
		{"i", "İ", false}, // strings.ToLower(strings.ToUpper(…)) makes these equal
		{"i", "ı", false}, // and these
		{"\xff", "\ufffd", true},
		{"\xff", "\xfe", true}, // both read as U+FFFD
		{"a\xffb", "A\ufffdB", true},
		{"", "", true},
		{"a", "", false},
		{"ab", "a", false},
		{"Σ", "ς", true},
	}
	for _, p := range pairs {
		if eq := strings.EqualFold(p.x, p.y); eq != p.equal {
			t.Fatalf("the table is wrong: EqualFold(%q, %q) = %v", p.x, p.y, eq)
		}
		if got := fold(p.x) == fold(p.y); got != p.equal {
			t.Errorf("fold(%q) == fold(%q) is %v, EqualFold says %v", p.x, p.y, got, p.equal)
		}
	}
	if tlu := func(s string) string { return strings.ToLower(strings.ToUpper(s)) }; tlu("i") != tlu("İ") {
		t.Errorf("ToLower(ToUpper(…)) now tells i from İ: the comment on fold is out of date")
	}
}

// TestEntitySetAddIsLinear: however many entities an alert has, each Add compares with at
// most linearMax of them (the scan compared with all: 5,000 evidence items took 0.21 s,
// 20,000 took 2.2 s); past that the indexes answer with a few map operations. Counted, not
// timed: a timing on a shared machine fails for the wrong reasons. BenchmarkEntitySet has the
// times.
func TestEntitySetAddIsLinear(t *testing.T) {
	inputs := map[string][]Entity{"realistic": realisticEntities(20000)}
	c := newCollider(func() func() byte {
		r := rand.New(rand.NewPCG(20000, 16))
		return func() byte { return byte(r.Uint32()) }
	}())
	for range 20000 {
		inputs["colliding"] = append(inputs["colliding"], c.entity())
	}
	for name, in := range inputs {
		var s EntitySet
		for _, e := range in {
			s.Add(e)
		}
		if s.compared > linearMax*len(in) || s.compared > 200*len(in) {
			t.Errorf("%s: %d entities took %d comparisons, more than %d an entity on average", name, len(in), s.compared, min(linearMax, 200))
		}
		t.Logf("%s: %d entities, %d kept, %d comparisons", name, len(in), len(s.List()), s.compared)
	}
}

// realisticEntities is an alert's entities as a big Defender for Endpoint alert names them:
// its device, then evidence in which users, files, addresses and processes come back (about a
// fifth of the items name something named before, some with another identifier or case, and
// a tenth name the device again).
func realisticEntities(n int) []Entity {
	r := rand.New(rand.NewPCG(uint64(n), 16))
	hex := func(k, width int) string {
		s := fmt.Sprintf("%0*x", width, uint64(k)*0x9e3779b97f4a7c15)
		return s[len(s)-width:]
	}
	distinct := 2 * n
	out := []Entity{{Type: "device", Name: "ws-0042.contoso.local", ID: hex(42, 40)},
		{Type: "user", Name: "jdoe", Domain: "contoso"}}
	for len(out) < n {
		k := r.IntN(distinct)
		switch k % 10 {
		case 0, 1: // users: by name and domain, some also by SID or UPN, in another case
			u := Entity{Type: "user", Name: "user" + strconv.Itoa(k), Domain: "contoso"}
			if r.IntN(2) == 0 {
				u.SID = "S-1-5-21-1004336348-1177238915-682003330-" + strconv.Itoa(1000+k)
				u.UPN = "user" + strconv.Itoa(k) + "@contoso.com"
			}
			if r.IntN(4) == 0 {
				u.Name = strings.ToUpper(u.Name)
			}
			out = append(out, u)
		case 2, 3, 4: // files, by hash
			out = append(out, Entity{Type: "file", Name: "f" + strconv.Itoa(k) + ".dll",
				Path: `C:\Windows\System32\drivers`, SHA1: hex(k, 40), SHA256: hex(k, 64)})
		case 5, 6: // processes
			out = append(out, Entity{Type: "process", Name: "p.exe", Path: `C:\Program Files\p`,
				PID: new(int64(k)), CommandLine: `"p.exe" --run ` + strconv.Itoa(k), ParentPID: new(int64(4)),
				ParentName: "services.exe", SHA1: hex(k, 40)})
		case 7, 8: // addresses
			out = append(out, Entity{Type: "ip", Address: fmt.Sprintf("10.%d.%d.%d", k>>16&255, k>>8&255, k&255)})
		default: // the device again, by name only, in another case
			out = append(out, Entity{Type: "device", Name: "WS-0042.contoso.local"})
		}
	}
	return out
}

// smallAlertEntities is what an ordinary alert adds: its device, related and logged-on users,
// and a dozen evidence items naming some of them again (16 adds, 12 entities).
func smallAlertEntities() []Entity {
	return []Entity{
		{Type: "device", Name: "ws-0042.contoso.local", ID: "8a0b0b5c2a4f1d5e7b0c9d1e2f3a4b5c6d7e8f90"},
		{Type: "user", Name: "jdoe", Domain: "contoso"},
		{Type: "user", Name: "jdoe", Domain: "contoso"},
		{Type: "user", Name: "svc-backup", Domain: "contoso"},
		{Type: "user", Name: "JDOE", Domain: "CONTOSO", SID: "S-1-5-21-1004336348-1177238915-682003330-1103", UPN: "jdoe@contoso.com"},
		{Type: "file", Name: "invoice.docm", Path: `C:\Users\jdoe\Downloads`, SHA1: "3395856ce81f2b7382dee72602f798b642f14140", SHA256: "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"},
		{Type: "file", Name: "payload.dll", Path: `C:\Users\jdoe\AppData\Local\Temp`, SHA1: "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"},
		{Type: "process", Name: "winword.exe", Path: `C:\Program Files\Microsoft Office\root\Office16`, PID: new(int64(4120)), CommandLine: `"WINWORD.EXE" /n "C:\Users\jdoe\Downloads\invoice.docm"`, ParentPID: new(int64(3300)), ParentName: "explorer.exe"},
		{Type: "process", Name: "rundll32.exe", Path: `C:\Windows\System32`, PID: new(int64(5512)), CommandLine: `rundll32.exe payload.dll,Start`, ParentPID: new(int64(4120)), ParentName: "winword.exe"},
		{Type: "file", Name: "invoice.docm", Path: `C:\Users\jdoe\Downloads`, SHA1: "3395856ce81f2b7382dee72602f798b642f14140"},
		{Type: "ip", Address: "203.0.113.7"},
		{Type: "url", URL: "http://203.0.113.7/a/b.bin"},
		{Type: "ip", Address: "203.0.113.7"},
		{Type: "registry", Key: `SOFTWARE\Microsoft\Windows\CurrentVersion\Run`, Hive: "HKEY_CURRENT_USER", Name: "updater", Value: "rundll32.exe payload.dll,Start"},
		{Type: "mailbox", Name: "John Doe", UPN: "jdoe@contoso.com", AADID: "0c9b5f2e-6a7d-4f3b-9d1e-2a8b7c6d5e4f"},
		{Type: "user", Name: "jdoe", Domain: "contoso", AADID: "0c9b5f2e-6a7d-4f3b-9d1e-2a8b7c6d5e4f"},
	}
}

// BenchmarkEntitySet: an ordinary alert (16 adds) and big ones (5,000 and 20,000 evidence
// items), with the scan as it was (before) and the set (after).
func BenchmarkEntitySet(b *testing.B) {
	inputs := []struct {
		name string
		in   []Entity
	}{{"small", smallAlertEntities()}, {"n=5000", realisticEntities(5000)}, {"n=20000", realisticEntities(20000)}}
	for _, in := range inputs {
		b.Run(in.name+"/before", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var s refEntitySet
				for _, e := range in.in {
					s.Add(e)
				}
			}
		})
		b.Run(in.name+"/after", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var s EntitySet
				for _, e := range in.in {
					s.Add(e)
				}
				_ = s.List()
			}
		})
	}
}
