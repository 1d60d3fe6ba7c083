// Package config reads alertexport's TOML configuration (docs/configuration.md): it decodes
// strictly, applies the defaults in one place, validates every key, and reports every problem at
// once with the file, line and key, saying what would be valid. It knows the clouds table and
// nothing about NATS or HTTP.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/alertexport/alertexport/sources/apis"
)

// Config is the effective configuration: defaults applied, every value validated.
type Config struct {
	Path    string
	Log     Log
	Worker  Worker
	NATS    NATS
	Tenants []Tenant
}

// Log configures the process logger.
type Log struct {
	Level  slog.Level
	Format string // json | text
}

// Worker holds process-wide settings.
type Worker struct {
	DataDir  string
	HTTPAddr string // "" = no HTTP listener
	CAFile   string // extra PEM roots for Entra and the Defender APIs
	// LeaseTTL is how long a replica's hold on a job outlives it (jetstream mode): another
	// replica takes a dead one's jobs within it.
	LeaseTTL time.Duration
}

// NATS configures the connection and the stream.
type NATS struct {
	URL             string // "" = embedded server
	Mode            string // jetstream | core
	Subject         string
	Stream          string
	DuplicateWindow time.Duration
	MaxAge          time.Duration
	// Replicas is the replica count of the stream and the KV buckets (1, 3 or 5); 0 when the
	// key is absent: new ones get 1 and existing ones keep theirs (docs/nats.md).
	Replicas       int
	EmbeddedListen string
	CredsFile      string
	NkeySeedFile   string
	TokenEnv       string
	User           string
	PasswordEnv    string
	CAFile         string
	CertFile       string
	KeyFile        string
}

// CredentialKind names how a tenant proves its identity to Entra ID; the value is the config key.
type CredentialKind string

// The credential kinds, one per config key.
const (
	SecretEnv          CredentialKind = "client_secret_env"
	SecretFile         CredentialKind = "client_secret_file"
	CertificateFile    CredentialKind = "certificate_file"
	FederatedTokenFile CredentialKind = "federated_token_file"
)

// Credential is where a tenant's secret comes from: an environment variable name or a file path,
// never the secret itself.
type Credential struct {
	Kind  CredentialKind
	Value string
}

// Tenant is one Entra ID tenant and its sources.
type Tenant struct {
	Name          string
	TenantID      string
	ClientID      string
	Cloud         Cloud
	AuthorityHost string // effective: the override, or the cloud's
	Credential    Credential
	// All is the job of every API (apis.All), in its order, enabled or not: a table left
	// out keeps what validate gave it.
	All []Source
}

// Sources returns the tenant's enabled sources in a fixed order.
func (t Tenant) Sources() []Source {
	var out []Source
	for _, s := range t.All {
		if s.Enabled {
			out = append(out, s)
		}
	}
	return out
}

// Source is t's job of the API named name, enabled or not (a table left out keeps what
// validate gave it); the zero Source for a name no API has.
func (t Tenant) Source(name string) Source {
	for _, s := range t.All {
		if string(s.Kind) == name {
			return s
		}
	}
	return Source{}
}

// Settings are what the source of t's job s reads of the config.
func (t Tenant) Settings(s Source) apis.Settings {
	return apis.Settings{
		Tenant:         t.Name,
		TenantID:       t.TenantID,
		ClientID:       t.ClientID,
		Portal:         t.Cloud.Portal,
		APIURL:         s.APIURL,
		MinSeverity:    s.MinSeverity,
		ServiceSources: s.ServiceSources,
		Lookback:       s.Lookback,
		StartFrom:      s.StartFrom,
	}
}

// SourceKind names a source, after its API (apis.API.Name); it appears in subjects, state keys
// and metrics.
type SourceKind string

// Source is one (tenant, source) job's settings.
type Source struct {
	Kind           SourceKind
	API            apis.API // what alertexport knows of the source's API
	Enabled        bool
	APIURL         string // no trailing slash
	Scope          string // token scope for this API in the tenant's cloud
	MinSeverity    string // "" | informational | low | medium | high
	ServiceSources []string
	Schedule       string
	Cron           cron.Schedule // Schedule parsed, evaluated in UTC
	Lookback       time.Duration
	StartFrom      time.Duration
	// RateLimits are the call rates the tenant's calls to this API stay under: rate_limits, or
	// Microsoft's documented limits (API.Limits).
	RateLimits []apis.Limit
}

// Problem is one thing wrong (or doubtful) in a config file.
type Problem struct {
	File string
	Line int    // 0 when unknown
	Key  string // e.g. tenant[0].endpoint.api_url; "" for the whole file
	Msg  string
	// Environment marks a warning about what the file points to (an unset variable, an
	// unreadable file): fine for `validate`, fatal for `run`, which needs them.
	Environment bool
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error lists every problem that makes a config invalid.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// LookupEnv reads an environment variable; os.LookupEnv in production, a map in tests.
type LookupEnv func(string) (string, bool)

// Load reads and validates the file at path. It returns the effective config and warnings
// (problems that do not stop the file from being valid, such as a secret's environment variable
// not being set here), or an *Error listing every problem.
func Load(path string, env LookupEnv) (*Config, []Problem, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		msg := fmt.Sprintf("cannot read the config file: %v", errors.Unwrap(err))
		if errors.Is(err, os.ErrNotExist) {
			msg = "no such file; pass --config FILE or set ALERTEXPORT_CONFIG (a commented example is config.toml in the repository)"
		}
		return nil, nil, &Error{Problems: []Problem{{File: path, Msg: msg}}}
	}
	return Parse(path, data, env)
}

// Parse is Load for a file already read; path only names it in messages.
func Parse(path string, data []byte, env LookupEnv) (*Config, []Problem, error) {
	if env == nil {
		env = os.LookupEnv
	}
	c := &checker{file: path, env: env}
	raw, ok := c.decode(data)
	if !ok {
		return nil, nil, &Error{Problems: c.errs}
	}
	cfg := c.build(raw)
	if len(c.errs) > 0 {
		// In file order; problems without a line (a missing table) last.
		slices.SortStableFunc(c.errs, func(a, b Problem) int {
			return cmp.Compare(lineOrLast(a.Line), lineOrLast(b.Line))
		})
		return nil, c.warns, &Error{Problems: c.errs}
	}
	c.checkEnvironment(cfg)
	cfg.Path = path
	return cfg, c.warns, nil
}

func lineOrLast(l int) int {
	if l == 0 {
		return math.MaxInt
	}
	return l
}

// IsGUID reports whether s is a GUID in the 8-4-4-4-12 form Entra ID uses for IDs.
func IsGUID(s string) bool { return guidRE.MatchString(s) }
