package config

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
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
}

type fileNATS struct {
	URL             *string `toml:"url"`
	Mode            *string `toml:"mode"`
	Subject         *string `toml:"subject"`
	Stream          *string `toml:"stream"`
	DuplicateWindow *string `toml:"duplicate_window"`
	MaxAge          *string `toml:"max_age"`
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
	Endpoint  *fileSource      `toml:"endpoint"`
	CloudApps *fileSource      `toml:"cloudapps"`
	Graph     *fileGraphSource `toml:"graph"`
}

type fileSource struct {
	Enabled     *bool   `toml:"enabled"`
	APIURL      *string `toml:"api_url"`
	MinSeverity *string `toml:"min_severity"`
	fileTiming
}

type fileGraphSource struct {
	fileSource
	ServiceSources []string `toml:"service_sources"`
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
	arrays := map[string]int{} // resolved array-table path → number of [[…]] seen so far
	var p unstable.Parser
	p.Reset(data)
	table := ""
	for p.NextExpression() {
		e := p.Expression()
		parts, line := keyOf(&p, e)
		switch e.Kind {
		case unstable.ArrayTable, unstable.Table:
			path := ""
			for i, part := range parts {
				path = joinKey(path, part)
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
			indexValue(&p, ix, joinKey(table, strings.Join(parts, ".")), e.Value(), line)
		}
	}
	return ix
}

func indexValue(p *unstable.Parser, ix keyIndex, key string, v *unstable.Node, line int) {
	ix[key] = line
	if v == nil || v.Kind != unstable.InlineTable {
		return
	}
	it := v.Children()
	for it.Next() {
		kv := it.Node()
		parts, l := keyOf(p, kv)
		indexValue(p, ix, joinKey(key, strings.Join(parts, ".")), kv.Value(), l)
	}
}

func keyOf(p *unstable.Parser, n *unstable.Node) ([]string, int) {
	var parts []string
	line := 0
	it := n.Key()
	for it.Next() {
		k := it.Node()
		if line == 0 {
			line = p.Shape(k.Raw).Start.Line
		}
		parts = append(parts, string(k.Data))
	}
	return parts, line
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

// decode parses data strictly into a fileConfig. Unknown keys and type mismatches are
// reported with their line; it returns false when the document cannot be used.
func (c *checker) decode(data []byte) (*fileConfig, bool) {
	c.lines = indexKeys(data)
	var raw fileConfig
	err := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields().Decode(&raw)
	if err == nil {
		return &raw, true
	}
	var strict *toml.StrictMissingError
	var de *toml.DecodeError
	switch {
	case errors.As(err, &strict):
		for i := range strict.Errors {
			e := &strict.Errors[i]
			line, _ := e.Position()
			key := c.keyAt(line, e.Key())
			c.errs = append(c.errs, Problem{File: c.file, Line: line, Key: key, Msg: unknownKeyMsg(key)})
		}
	case errors.As(err, &de):
		line, _ := de.Position()
		if len(de.Key()) == 0 {
			c.errs = append(c.errs, Problem{File: c.file, Line: line, Msg: "TOML syntax: " + strings.TrimPrefix(de.Error(), "toml: ")})
			break
		}
		key := c.keyAt(line, de.Key())
		c.errs = append(c.errs, Problem{File: c.file, Line: line, Key: key, Msg: typeMsg(key, de.Error())})
	default:
		c.errs = append(c.errs, Problem{File: c.file, Msg: err.Error()})
	}
	return nil, false
}

// keyAt finds the indexed path of the key the decoder names (its names carry no array index).
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
		// For "set twice" the decoder names only the last part of the key.
		if strings.HasSuffix(key, "."+want) {
			onLine = key
		}
	}
	if onLine != "" {
		return onLine
	}
	return want
}

var tomlTypeRE = regexp.MustCompile(`cannot decode TOML (\w+)`)

func typeMsg(key, libMsg string) string {
	got := "a value of another type"
	if m := tomlTypeRE.FindStringSubmatch(libMsg); m != nil {
		got = "a TOML " + m[1]
	}
	if strings.Contains(libMsg, "already defined") {
		return "set twice; keep one"
	}
	want, ok := keyDocs[schemaKey(key)]
	if !ok {
		return strings.TrimPrefix(libMsg, "toml: ")
	}
	return fmt.Sprintf("wrong type: got %s; want %s", got, want)
}

// literalSecrets are keys people write when they mean the *_env / *_file forms.
var literalSecrets = map[string]string{
	"tenant.client_secret": `secrets are never written in the file: use client_secret_env = "VAR" (an environment variable holding it) or client_secret_file = "/path/to/file"`,
	"tenant.certificate":   `use certificate_file = "/path/to/cert-and-key.pem"`,
	"nats.password":        `secrets are never written in the file: use user = "name" with password_env = "VAR"`,
	"nats.token":           `secrets are never written in the file: use token_env = "VAR"`,
	"nats.nkey_seed":       `secrets are never written in the file: use nkey_seed_file = "/path/to/seed.nk"`,
}

func unknownKeyMsg(key string) string {
	sk := schemaKey(key)
	if msg, ok := literalSecrets[sk]; ok {
		return "unknown key; " + msg
	}
	parent, name := "", sk
	if i := strings.LastIndexByte(sk, '.'); i >= 0 {
		parent, name = sk[:i], sk[i+1:]
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
var tables = []string{"log", "worker", "nats", "defaults", "tenant", "tenant.endpoint", "tenant.cloudapps", "tenant.graph"}
