package config

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/alertexport/alertexport/sources/apis"
)

// The file* types mirror the TOML document. Pointers tell "absent" (inherit the default) from
// "set to the zero value" (e.g. http_addr = "" turns the listener off).

type fileConfig struct {
	Log      fileLog      `toml:"log"`
	Worker   fileWorker   `toml:"worker"`
	NATS     fileNATS     `toml:"nats"`
	Defaults fileTiming   `toml:"defaults"`
	Tenants  []fileTenant `toml:"tenant"`
}

type fileLog struct {
	Level  *string `toml:"level"`
	Format *string `toml:"format"`
}

type fileWorker struct {
	DataDir  *string `toml:"data_dir"`
	HTTPAddr *string `toml:"http_addr"`
	CAFile   *string `toml:"ca_file"`
	LeaseTTL *string `toml:"lease_ttl"`
}

type fileNATS struct {
	URL             *string `toml:"url"`
	Mode            *string `toml:"mode"`
	Subject         *string `toml:"subject"`
	Stream          *string `toml:"stream"`
	DuplicateWindow *string `toml:"duplicate_window"`
	MaxAge          *string `toml:"max_age"`
	Replicas        *int64  `toml:"replicas"`
	EmbeddedListen  *string `toml:"embedded_listen"`
	CredsFile       *string `toml:"creds_file"`
	NkeySeedFile    *string `toml:"nkey_seed_file"`
	TokenEnv        *string `toml:"token_env"`
	User            *string `toml:"user"`
	PasswordEnv     *string `toml:"password_env"`
	CAFile          *string `toml:"ca_file"`
	CertFile        *string `toml:"cert_file"`
	KeyFile         *string `toml:"key_file"`
}

type fileTiming struct {
	Schedule  *string `toml:"schedule"`
	Lookback  *string `toml:"lookback"`
	StartFrom *string `toml:"start_from"`
}

type fileTenant struct {
	Name               *string `toml:"name"`
	TenantID           *string `toml:"tenant_id"`
	ClientID           *string `toml:"client_id"`
	Cloud              *string `toml:"cloud"`
	ClientSecretEnv    *string `toml:"client_secret_env"`
	ClientSecretFile   *string `toml:"client_secret_file"`
	CertificateFile    *string `toml:"certificate_file"`
	FederatedTokenFile *string `toml:"federated_token_file"`
	AuthorityHost      *string `toml:"authority_host"`
	fileTiming
	// Sources are the tables [tenant.<API name>] present, by API name (apis.All); fill
	// decodes them.
	Sources map[string]*fileSource `toml:"-"`
}

// fileSource is one API's table in a tenant. An API without a service_sources filter is
// decoded as fileCommon, so that the key is unknown there.
type fileSource struct {
	fileCommon
	ServiceSources []string `toml:"service_sources"`
}

type fileCommon struct {
	Enabled     *bool    `toml:"enabled"`
	APIURL      *string  `toml:"api_url"`
	MinSeverity *string  `toml:"min_severity"`
	RateLimits  []string `toml:"rate_limits"` // nil: absent
	fileTiming
}

// keyIndex maps a key path such as "tenant[1].endpoint.api_url" to the line that sets it, and
// table paths such as "tenant[1]" to their header line.
type keyIndex map[string]int

// line returns the line of key, or of its nearest parent that has one (a missing required key
// is reported on its table's header).
func (ix keyIndex) line(key string) int {
	for key != "" {
		if l, ok := ix[key]; ok {
			return l
		}
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

// indexKeys walks the document with go-toml's (unstable-API, pinned) parser, which keeps
// positions, to learn where each key is. The decoder reports positions only for its own errors.
func indexKeys(data []byte) keyIndex {
	ix := keyIndex{}
	lines := newLines(data)
	arrays := map[string]int{} // resolved array-table path → number of [[…]] seen so far
	var p unstable.Parser
	p.Reset(data)
	table := ""
	for p.NextExpression() {
		e := p.Expression()
		parts, line := keyOf(lines, e)
		switch e.Kind {
		case unstable.ArrayTable, unstable.Table:
			path := ""
			for i, part := range parts {
				path = joinKey(path, quoteKey(part))
				if i == len(parts)-1 && e.Kind == unstable.ArrayTable {
					arrays[path]++
				}
				if n := arrays[path]; n > 0 {
					path = fmt.Sprintf("%s[%d]", path, n-1)
				}
			}
			table = path
			ix[table] = line
		case unstable.KeyValue:
			indexValue(lines, ix, joinKey(table, joinParts(parts)), e.Value(), line)
		}
	}
	return ix
}

func indexValue(lines lineIndex, ix keyIndex, key string, v *unstable.Node, line int) {
	ix[key] = line
	if v == nil {
		return
	}
	it := v.Children()
	switch v.Kind {
	case unstable.InlineTable:
		for it.Next() {
			kv := it.Node()
			parts, l := keyOf(lines, kv)
			indexValue(lines, ix, joinKey(key, joinParts(parts)), kv.Value(), l)
		}
	case unstable.Array: // tenant = [{…}, {…}] is an array of tables too
		for i := 0; it.Next(); i++ {
			if it.Node().Kind == unstable.InlineTable {
				indexValue(lines, ix, fmt.Sprintf("%s[%d]", key, i), it.Node(), line)
			}
		}
	}
}

func joinParts(parts []string) string {
	q := make([]string, len(parts))
	for i, p := range parts {
		q[i] = quoteKey(p)
	}
	return strings.Join(q, ".")
}

func keyOf(lines lineIndex, n *unstable.Node) ([]string, int) {
	var parts []string
	line := 0
	it := n.Key()
	for it.Next() {
		k := it.Node()
		if line == 0 {
			line = lines.at(int(k.Raw.Offset))
		}
		parts = append(parts, string(k.Data))
	}
	return parts, line
}

// lineIndex holds the offset of every newline of a document, so that a key's line is a binary
// search: the parser's Shape counts the lines from the start each time, which made a config of
// 1,000 tenants take most of a second to load.
type lineIndex []int

func newLines(data []byte) lineIndex {
	var nl lineIndex
	for i, c := range data {
		if c == '\n' {
			nl = append(nl, i)
		}
	}
	return nl
}

// at is the line (from 1) of byte offset off.
func (l lineIndex) at(off int) int {
	n, _ := slices.BinarySearch(l, off)
	return n + 1
}

func joinKey(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

var indexRE = regexp.MustCompile(`\[\d+\]`)

// schemaKey strips array indexes: tenant[3].endpoint.enabled → tenant.endpoint.enabled.
func schemaKey(key string) string { return indexRE.ReplaceAllString(key, "") }

// decode parses data and fills a fileConfig from it. A syntax error stops it (returns false);
// unknown keys and wrong types are reported, every one, and left unset, so that validation still
// looks at the rest of the file and the operator sees every problem in one pass.
func (c *checker) decode(data []byte) (*fileConfig, bool) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // the BOM some Windows editors add
	c.lines = indexKeys(data)
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		var de *toml.DecodeError
		if !errors.As(err, &de) {
			c.errs = append(c.errs, Problem{File: c.file, Msg: err.Error()})
			return nil, false
		}
		line, _ := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if strings.Contains(msg, "already defined") {
			c.errs = append(c.errs, Problem{File: c.file, Line: line, Key: c.keyAt(line, de.Key()), Msg: "set twice; keep one"})
		} else {
			c.errs = append(c.errs, Problem{File: c.file, Line: line, Msg: "TOML syntax: " + msg})
		}
		return nil, false
	}
	var raw fileConfig
	c.fill(reflect.ValueOf(&raw).Elem(), doc, "")
	return &raw, true
}

// keyAt finds the indexed path of the key the parser names (its names carry no array index).
func (c *checker) keyAt(line int, k toml.Key) string {
	want := strings.Join(k, ".")
	var onLine string
	for key, l := range c.lines {
		if l != line {
			continue
		}
		if schemaKey(key) == want {
			return key
		}
		// For "set twice" the parser names only the last part of the key.
		if strings.HasSuffix(key, "."+want) {
			onLine = key
		}
	}
	if onLine != "" {
		return onLine
	}
	return want
}

var (
	stringPtrType = reflect.TypeFor[*string]()
	boolPtrType   = reflect.TypeFor[*bool]()
	intPtrType    = reflect.TypeFor[*int64]()
	stringsType   = reflect.TypeFor[[]string]()
)

// fill copies the TOML table m into the struct v, matching keys to toml tags. Decoding by hand
// (rather than with the library's strict decoder, which stops at the first wrong type) is what
// lets every problem be reported at once.
func (c *checker) fill(v reflect.Value, m map[string]any, path string) {
	fields := map[string]reflect.Value{}
	tomlFields(v, fields)
	if t, ok := v.Addr().Interface().(*fileTenant); ok {
		defer c.apiTables(t, fields)()
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		key := joinKey(path, quoteKey(k))
		f, ok := fields[k]
		if !ok {
			c.decodeErr(key, unknownKeyMsg(schemaKey(path), k))
			continue
		}
		c.set(f, m[k], key)
	}
}

// apiTables adds a field for each API's table [tenant.<name>] to fields, for fill to decode
// into, and (deferred) moves what was decoded into t.Sources.
func (c *checker) apiTables(t *fileTenant, fields map[string]reflect.Value) func() {
	tables := map[string]reflect.Value{}
	for _, api := range apis.All() {
		typ := reflect.TypeFor[*fileCommon]()
		if api.ServiceSources != nil {
			typ = reflect.TypeFor[*fileSource]()
		}
		tables[api.Name] = reflect.New(typ).Elem()
		fields[api.Name] = tables[api.Name]
	}
	return func() {
		t.Sources = map[string]*fileSource{}
		for name, f := range tables {
			switch f := f.Interface().(type) {
			case *fileSource:
				if f != nil {
					t.Sources[name] = f
				}
			case *fileCommon:
				if f != nil {
					t.Sources[name] = &fileSource{fileCommon: *f}
				}
			}
		}
	}
}

// tomlFields maps tag names to fields, descending into embedded structs.
func tomlFields(v reflect.Value, out map[string]reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			tomlFields(v.Field(i), out)
			continue
		}
		if tag := sf.Tag.Get("toml"); tag != "" && tag != "-" {
			out[tag] = v.Field(i)
		}
	}
}

func (c *checker) set(f reflect.Value, val any, key string) {
	switch {
	case f.Type() == stringPtrType:
		if s, ok := val.(string); ok {
			f.Set(reflect.ValueOf(&s))
			return
		}
	case f.Type() == boolPtrType:
		if b, ok := val.(bool); ok {
			f.Set(reflect.ValueOf(&b))
			return
		}
	case f.Type() == intPtrType:
		if n, ok := val.(int64); ok {
			f.Set(reflect.ValueOf(&n))
			return
		}
	case f.Type() == stringsType:
		if arr, ok := val.([]any); ok {
			out := make([]string, 0, len(arr))
			for _, e := range arr {
				s, ok := e.(string)
				if !ok {
					c.decodeErr(key, fmt.Sprintf("wrong type: an element is %s; want %s", tomlType(e), keyDocs[schemaKey(key)]))
					return
				}
				out = append(out, s)
			}
			f.Set(reflect.ValueOf(out))
			return
		}
	case f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Struct:
		if tbl, ok := val.(map[string]any); ok {
			nv := reflect.New(f.Type().Elem())
			c.fill(nv.Elem(), tbl, key)
			f.Set(nv)
			return
		}
	case f.Kind() == reflect.Struct:
		if tbl, ok := val.(map[string]any); ok {
			c.fill(f, tbl, key)
			return
		}
	case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct:
		if _, ok := val.(map[string]any); ok {
			c.decodeErr(key, fmt.Sprintf("a single [%s] table; write [[%s]], once per tenant", key, key))
			return
		}
		if arr, ok := val.([]any); ok {
			out := reflect.MakeSlice(f.Type(), 0, len(arr))
			for i, e := range arr {
				ek := fmt.Sprintf("%s[%d]", key, i)
				tbl, ok := e.(map[string]any)
				if !ok {
					c.decodeErr(ek, "wrong type: got "+tomlType(e)+"; want a table")
					continue
				}
				elem := reflect.New(f.Type().Elem()).Elem()
				c.fill(elem, tbl, ek)
				out = reflect.Append(out, elem)
			}
			f.Set(out)
			return
		}
	}
	want := keyDocs[schemaKey(key)]
	if want == "" {
		want = "a table"
	}
	c.decodeErr(key, fmt.Sprintf("wrong type: got %s; want %s", tomlType(val), want))
}

// decodeErr reports a key that could not be decoded, and keeps validation quiet about it.
func (c *checker) decodeErr(key, msg string) {
	c.errs = append(c.errs, Problem{File: c.file, Line: c.lines.line(key), Key: key, Msg: msg})
	if c.bad == nil {
		c.bad = map[string]bool{}
	}
	c.bad[key] = true
}

func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return "a date or time"
}

// quoteKey quotes a key segment the way TOML needs it when it is not a bare key, so that
// "log.level" = … is not reported as log.level.
func quoteKey(k string) string {
	if k != "" && strings.IndexFunc(k, func(r rune) bool {
		return (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' && r != '-'
	}) < 0 {
		return k
	}
	return quote(k)
}

// literalSecrets are keys people write when they mean the *_env / *_file forms.
var literalSecrets = map[string]string{
	"tenant.client_secret": `secrets are never written in the file: use client_secret_env = "VAR" (an environment variable holding it) or client_secret_file = "/path/to/file"`,
	"tenant.certificate":   `use certificate_file = "/path/to/cert-and-key.pem"`,
	"nats.password":        `secrets are never written in the file: use user = "name" with password_env = "VAR"`,
	"nats.token":           `secrets are never written in the file: use token_env = "VAR"`,
	"nats.nkey_seed":       `secrets are never written in the file: use nkey_seed_file = "/path/to/seed.nk"`,
}

// sourceOnly are keys people may expect to inherit like schedule, which only a source's table
// takes.
var sourceOnly = map[string]string{
	"rate_limits": "rate_limits is set per source, in " + apis.Names("[tenant.%s]") + ": each API has limits of its own",
}

// unknownKeyMsg explains an unknown key name in the table parent (a schema path).
func unknownKeyMsg(parent, name string) string {
	if msg, ok := literalSecrets[joinKey(parent, name)]; ok {
		return "unknown key; " + msg
	}
	if msg, ok := sourceOnly[name]; ok && (parent == "defaults" || parent == "tenant") {
		return "unknown key; " + msg
	}
	var siblings []string
	for k := range keyDocs {
		if p, n, _ := cutLast(k); p == parent {
			siblings = append(siblings, n)
		}
	}
	for _, t := range tables {
		if p, _, _ := cutLast(t); p == parent {
			siblings = append(siblings, "["+t+"]")
		}
	}
	sort.Strings(siblings)
	if len(siblings) == 0 {
		return "unknown key; remove it"
	}
	if best := closest(name, siblings); best != "" {
		return fmt.Sprintf("unknown key; did you mean %s?", best)
	}
	return "unknown key; valid here: " + strings.Join(siblings, ", ")
}

func cutLast(k string) (parent, name string, ok bool) {
	i := strings.LastIndexByte(k, '.')
	if i < 0 {
		return "", k, false
	}
	return k[:i], k[i+1:], true
}

// closest returns the candidate within edit distance 2 of name (ignoring [brackets]), if any.
func closest(name string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		_, last, _ := cutLast(strings.Trim(c, "[]")) // [tenant.endpoint] is compared as endpoint
		if d := editDistance(name, last); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance; the inputs are short config key names.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// tables are the TOML tables the schema knows (for "did you mean" on unknown tables).
var tables = append([]string{"log", "worker", "nats", "defaults", "tenant"}, apiKeys("tenant.")...)

// apiKeys is each API's name after prefix.
func apiKeys(prefix string) []string {
	var out []string
	for _, api := range apis.All() {
		out = append(out, prefix+api.Name)
	}
	return out
}
