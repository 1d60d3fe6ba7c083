package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/alertexport/alertexport/sources/apis"
)

// Built-in defaults (docs/configuration.md). They live here and nowhere else.
const (
	defaultLevel           = "info"
	defaultFormat          = "json"
	defaultDataDir         = "./data"
	defaultHTTPAddr        = "127.0.0.1:9464"
	defaultLeaseTTL        = "30s"
	defaultMode            = "jetstream"
	defaultSubject         = "alerts.{source}.{tenant}.{severity}"
	defaultStream          = "ALERTS"
	defaultDuplicateWindow = "2h"
	defaultMaxAge          = "720h"
	defaultCloud           = "public"
	defaultSchedule        = "@every 1m"
	defaultLookback        = 10 * time.Minute
	defaultStartFrom       = 24 * time.Hour
)

var (
	nameRE     = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)
	guidRE     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	envNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	streamRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	literalRE  = regexp.MustCompile(`^[a-z0-9_-]*$`)
	daysRE     = regexp.MustCompile(`^(\d+)d$`)
	zeroGUID   = "00000000-0000-0000-0000-000000000000"
	levels     = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}
	severities = []string{"informational", "low", "medium", "high"}
	// placeholders are the subject template's variables (docs/nats.md).
	placeholders = []string{"source", "tenant", "severity", "event", "category"}
)

// checker builds the effective config and collects every problem on the way.
type checker struct {
	file  string
	env   LookupEnv
	lines keyIndex
	bad   map[string]bool // keys that failed to decode: validation says nothing more about them
	errs  []Problem
	warns []Problem
}

func (c *checker) problem(key, format string, args ...any) Problem {
	return Problem{File: c.file, Line: c.lines.line(key), Key: key, Msg: fmt.Sprintf(format, args...)}
}

func (c *checker) errorf(key, format string, args ...any) {
	if c.bad[key] {
		return
	}
	c.errs = append(c.errs, c.problem(key, format, args...))
}

func (c *checker) warnf(key, format string, args ...any) {
	c.warns = append(c.warns, c.problem(key, format, args...))
}

// invalid reports a bad value and says what a valid one looks like.
func (c *checker) invalid(key, format string, args ...any) {
	c.errorf(key, "%s; want %s", fmt.Sprintf(format, args...), keyDocs[schemaKey(key)])
}

func str(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

// timing is the schedule/lookback/start_from triple that [defaults], a tenant and a source may set.
type timing struct {
	schedule    string
	cron        cron.Schedule
	lookback    time.Duration
	lookbackKey string // where the effective lookback was set; "" = built in
	startFrom   time.Duration
}

func (c *checker) build(raw *fileConfig) *Config {
	cfg := &Config{Log: c.log(raw.Log), Worker: c.worker(raw.Worker), NATS: c.nats(raw.NATS)}
	sched, _ := parseSchedule(defaultSchedule)
	base := c.timing("defaults", raw.Defaults, timing{schedule: defaultSchedule, cron: sched, lookback: defaultLookback, startFrom: defaultStartFrom})
	if len(raw.Tenants) == 0 {
		c.errorf("tenant", "no [[tenant]] table; add one per Entra ID tenant to export from (config.toml in the repository shows one)")
	}
	lookbackKey := "defaults.lookback"
	maxLookback := base.lookback
	if base.lookbackKey == "" {
		lookbackKey = "" // built in
	}
	for i := range raw.Tenants {
		key := fmt.Sprintf("tenant[%d]", i)
		t, tms := c.tenant(key, &raw.Tenants[i], base)
		cfg.Tenants = append(cfg.Tenants, t)
		for _, tm := range tms {
			if tm.lookback > maxLookback {
				maxLookback, lookbackKey = tm.lookback, tm.lookbackKey
			}
		}
	}
	c.crossTenant(cfg.Tenants)
	c.duplicateWindow(raw.NATS, cfg.NATS, maxLookback, lookbackKey)
	return cfg
}

func (c *checker) log(f fileLog) Log {
	var l Log
	level := str(f.Level, defaultLevel)
	if lv, ok := levels[level]; ok {
		l.Level = lv
	} else {
		c.invalid("log.level", "%s is not a level", quote(level))
	}
	l.Format = str(f.Format, defaultFormat)
	if l.Format != "json" && l.Format != "text" {
		c.invalid("log.format", "%s is not a format", quote(l.Format))
	}
	return l
}

func (c *checker) worker(f fileWorker) Worker {
	w := Worker{DataDir: str(f.DataDir, defaultDataDir), HTTPAddr: str(f.HTTPAddr, defaultHTTPAddr), CAFile: str(f.CAFile, "")}
	if w.DataDir == "" {
		c.invalid("worker.data_dir", "empty")
	}
	if w.HTTPAddr != "" && c.hostPort("worker.http_addr", w.HTTPAddr) {
		if host, _, _ := net.SplitHostPort(w.HTTPAddr); !isLoopback(host) {
			c.warnf("worker.http_addr", "%s is not a loopback address: /metrics and the health endpoints are open to anyone who reaches it", quote(w.HTTPAddr))
		}
	}
	if ttl, ok := c.duration("worker.lease_ttl", str(f.LeaseTTL, defaultLeaseTTL)); ok {
		if ttl < 3*time.Second || ttl > 10*time.Minute {
			c.invalid("worker.lease_ttl", "%s is out of range", formatDuration(ttl))
		}
		w.LeaseTTL = ttl
	}
	return w
}

func (c *checker) hostPort(key, s string) bool {
	_, port, err := net.SplitHostPort(s)
	if err == nil {
		var n int
		n, err = strconv.Atoi(port)
		if err == nil && (n < 0 || n > 65535) {
			err = errors.New("port out of range")
		}
	}
	if err != nil {
		c.invalid(key, "%s is not host:port", quote(s))
		return false
	}
	return true
}

func (c *checker) nats(f fileNATS) NATS {
	n := NATS{
		URL: str(f.URL, ""), Mode: str(f.Mode, defaultMode), Subject: str(f.Subject, defaultSubject),
		Stream: str(f.Stream, defaultStream), EmbeddedListen: str(f.EmbeddedListen, ""),
		CredsFile: str(f.CredsFile, ""), NkeySeedFile: str(f.NkeySeedFile, ""), TokenEnv: str(f.TokenEnv, ""),
		User: str(f.User, ""), PasswordEnv: str(f.PasswordEnv, ""),
		CAFile: str(f.CAFile, ""), CertFile: str(f.CertFile, ""), KeyFile: str(f.KeyFile, ""),
	}
	if n.URL != "" {
		c.natsURLs(n.URL)
	}
	if n.Mode != "jetstream" && n.Mode != "core" {
		c.invalid("nats.mode", "%s is not a mode", quote(n.Mode))
	}
	if err := checkSubject(n.Subject); err != nil {
		c.invalid("nats.subject", "%s: %v", quote(n.Subject), err)
	}
	if !streamRE.MatchString(n.Stream) {
		c.invalid("nats.stream", "%s is not a stream name", quote(n.Stream))
	}
	n.DuplicateWindow, _ = c.duration("nats.duplicate_window", str(f.DuplicateWindow, defaultDuplicateWindow))
	n.MaxAge, _ = c.duration("nats.max_age", str(f.MaxAge, defaultMaxAge))
	if f.Replicas != nil {
		n.Replicas = c.replicas(*f.Replicas, n)
	}
	var auth []string
	for _, a := range []struct{ key, val string }{{"creds_file", n.CredsFile}, {"nkey_seed_file", n.NkeySeedFile}, {"token_env", n.TokenEnv}, {"user", n.User}} {
		if a.val != "" {
			auth = append(auth, a.key)
		}
	}
	if len(auth) > 1 {
		c.errorf("nats."+auth[1], "set together with nats.%s; NATS takes one way to authenticate: keep exactly one of creds_file, nkey_seed_file, token_env, user + password_env", auth[0])
	}
	switch {
	case n.User != "" && n.PasswordEnv == "":
		c.errorf("nats.user", "set without password_env; want password_env naming the environment variable that holds the password")
	case n.User == "" && n.PasswordEnv != "":
		c.errorf("nats.password_env", "set without user; want user = \"name\" as well")
	}
	if n.URL == "" {
		c.embedded(n, auth)
	} else {
		if n.EmbeddedListen != "" {
			c.errorf("nats.embedded_listen", "set, but nats.url is not empty: embedded_listen applies only to the embedded server; remove one of them")
		}
		c.plainCredentials(n, auth)
	}
	c.envName("nats.token_env", n.TokenEnv)
	c.envName("nats.password_env", n.PasswordEnv)
	if (n.CertFile == "") != (n.KeyFile == "") {
		key := "nats.cert_file"
		if n.CertFile != "" {
			key = "nats.key_file"
		}
		c.errorf(key, "missing: mutual TLS needs both cert_file and key_file")
	}
	return n
}

// embedded checks what the embedded server (nats.url = "") makes of the NATS keys: the
// credentials are the ones it requires of every client, itself included; TLS it has none.
func (c *checker) embedded(n NATS, auth []string) {
	if n.CredsFile != "" {
		c.errorf("nats.creds_file", "cannot secure the embedded server (nats.url is empty): a .creds file names a user of an operator's account, and the embedded server has no operator; want user + password_env, token_env or nkey_seed_file, or an external server in nats.url")
	}
	if n.CAFile != "" || n.CertFile != "" {
		c.warnf("nats.url", "empty, so the embedded server is used; it has no TLS, and ca_file, cert_file and key_file (for an external server) are ignored")
	}
	if n.EmbeddedListen == "" || !c.hostPort("nats.embedded_listen", n.EmbeddedListen) {
		return
	}
	if host, _, _ := net.SplitHostPort(n.EmbeddedListen); !isLoopback(host) {
		switch {
		case len(auth) == 0:
			// Whoever reaches it could rewrite a checkpoint (a cursor in 2999 silently ends an
			// export), publish fake alerts or delete the stream.
			c.errorf("nats.embedded_listen", "%s is not a loopback address and the embedded server has no credentials: anyone who reaches it could read every alert, publish fake ones, rewrite the checkpoints or delete the stream; set user + password_env, token_env or nkey_seed_file (the embedded server then requires them of every client), or listen on 127.0.0.1", quote(n.EmbeddedListen))
		case n.CredsFile == "":
			c.warnf("nats.embedded_listen", "%s is not a loopback address and the embedded server has no TLS: its clients' credentials and every alert cross the network in plain text; keep it to a network you trust, or use an external NATS server with TLS (nats.url)", quote(n.EmbeddedListen))
		}
	}
}

// replicas checks nats.replicas: JetStream takes 1 to 5, and an even count tolerates no more
// node losses than the odd count below it.
func (c *checker) replicas(r int64, n NATS) int {
	switch {
	case r != 1 && r != 3 && r != 5:
		c.invalid("nats.replicas", "%d is not a replica count", r)
		return 0
	case n.Mode == "core":
		c.errorf("nats.replicas", "set, but nats.mode is \"core\": core mode keeps no stream and no KV bucket to replicate; remove it, or set mode = \"jetstream\"")
		return 0
	case n.URL == "" && r > 1:
		c.errorf("nats.replicas", "%d, but nats.url is empty: the embedded server is a single node and can hold one replica; set nats.url to a JetStream cluster of at least %d servers, or replicas = 1", r, r)
		return 0
	}
	return int(r)
}

// plainCredentials warns when credentials would go to a remote server in plain text. nats.go
// upgrades to TLS when the server requires it, and insists on TLS with a tls:// or wss:// URL
// (for the whole list), ca_file or cert_file; otherwise a server that only offers TLS, or an
// impostor on the path, gets them in the clear.
func (c *checker) plainCredentials(n NATS, auth []string) {
	if len(auth) == 0 || n.CAFile != "" || n.CertFile != "" {
		return
	}
	var plain []string
	for _, s := range strings.Split(n.URL, ",") {
		s = strings.TrimSpace(s)
		u, err := url.Parse(s)
		if err != nil {
			return // reported
		}
		switch u.Scheme {
		case "tls", "wss":
			return
		case "nats", "ws":
			if !isLoopback(u.Hostname()) {
				plain = append(plain, quote(displayURL(s)))
			}
		}
	}
	if len(plain) > 0 {
		c.warnf("nats.url", "%s: plain text to a host that is not loopback, and no TLS is configured (no tls:// URL, ca_file or cert_file): the credentials (nats.%s) and every alert cross the network unencrypted unless the server requires TLS (nats.go then upgrades the connection); write tls://host:port or set ca_file to insist on TLS", strings.Join(plain, ", "), auth[0])
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c *checker) natsURLs(list string) {
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		u, err := url.Parse(s)
		switch {
		case err != nil || u.Host == "":
			c.invalid("nats.url", "%s is not a URL", quote(displayURL(s)))
		case !slices.Contains([]string{"nats", "tls", "ws", "wss"}, u.Scheme):
			c.invalid("nats.url", "%s has scheme %q", quote(displayURL(s)), u.Scheme)
		case u.User != nil:
			c.errorf("nats.url", "%s contains credentials; secrets are never written in the file: use token_env, or user + password_env, or creds_file", quote(displayURL(s)))
		}
	}
}

// envName checks the name of a variable that holds a secret. A value that is not a name is
// often the secret itself, pasted in the wrong place, so it is never repeated.
func (c *checker) envName(key, name string) {
	if name != "" && !envNameRE.MatchString(name) {
		c.errorf(key, "is not an environment variable name (letters, digits and _; the value is not shown: if it is the secret itself, remove it from the file and rotate the secret); want %s", keyDocs[schemaKey(key)])
	}
}

// duration parses a positive Go duration, with a hint for the "30d" people write.
func (c *checker) duration(key, s string) (time.Duration, bool) {
	d, err := time.ParseDuration(s)
	if err != nil {
		hint := ""
		if m := daysRE.FindStringSubmatch(s); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil && n < 1e6 {
				hint = fmt.Sprintf(" (durations have no days unit: write %q)", strconv.Itoa(n*24)+"h")
			}
		}
		c.invalid(key, "%s is not a duration%s", quote(s), hint)
		return 0, false
	}
	if d <= 0 {
		c.invalid(key, "%s is not more than zero", quote(s))
		return 0, false
	}
	return d, true
}

func (c *checker) timing(table string, f fileTiming, inherit timing) timing {
	t := inherit
	if f.Schedule != nil {
		key := joinKey(table, "schedule")
		if s, err := parseSchedule(*f.Schedule); err != nil {
			c.invalid(key, "%s: %v", quote(*f.Schedule), err)
		} else {
			t.schedule, t.cron = *f.Schedule, s
		}
	}
	if f.Lookback != nil {
		key := joinKey(table, "lookback")
		if d, ok := c.duration(key, *f.Lookback); ok {
			t.lookback, t.lookbackKey = d, key
		}
	}
	if f.StartFrom != nil {
		if d, ok := c.duration(joinKey(table, "start_from"), *f.StartFrom); ok {
			t.startFrom = d
		}
	}
	return t
}

// parseSchedule parses a cron spec the way the worker will run it: standard 5 fields or a
// descriptor, in UTC.
func parseSchedule(spec string) (cron.Schedule, error) {
	if f := strings.Fields(spec); len(f) > 0 && (strings.HasPrefix(f[0], "TZ=") || strings.HasPrefix(f[0], "CRON_TZ=")) {
		return nil, errors.New("time zones are not supported, schedules run in UTC (convert the times to UTC and remove the prefix)")
	}
	s, err := safeParseCron(spec)
	if err != nil {
		if strings.Contains(err.Error(), "above maximum (6)") {
			err = fmt.Errorf("%w (day-of-week runs 0-6, Sunday is 0)", err)
		}
		return nil, err
	}
	if s.Next(time.Now()).IsZero() {
		return nil, errors.New("never fires: no date in the next five years matches it")
	}
	if _, ok := s.(cron.ConstantDelaySchedule); ok {
		// robfig accepts "@every 0s" and "@every -1s" (a job in a busy loop) and silently rounds
		// "@every 1500ms" down to whole seconds.
		d, err := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(spec, "@every")))
		switch {
		case err != nil:
			return nil, err
		case d < time.Second:
			return nil, errors.New("@every needs at least 1s")
		case d%time.Second != 0:
			return nil, errors.New("@every needs whole seconds (the scheduler would round it down)")
		}
	}
	return s, nil
}

// safeParseCron calls robfig's parser under recover: it panics on some inputs
// (robfig/cron#554, #555; e.g. "TZ=UTC").
func safeParseCron(spec string) (s cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("the cron parser cannot read it (%v)", r)
		}
	}()
	if strings.HasPrefix(spec, "@every") && !strings.HasPrefix(spec, "@every ") {
		return nil, errors.New("@every needs a duration, e.g. \"@every 1m\"")
	}
	return cron.ParseStandard(spec)
}

// Subject bounds (docs/nats.md). A rendered token has at most maxToken characters (envelope.Token
// shortens a longer value), so a template's longest rendering is known here. maxSubject keeps
// the whole subject far inside nats-server's default max_control_line of 4096 bytes, which
// bounds each protocol line: a publish's (the subject, JetStream's reply inbox of about 50 bytes
// and two sizes) and a delivery's to a subscriber (the subject, and a JetStream ack reply that
// carries stream and consumer names of up to 255 characters each). A line over it makes the
// server close the connection, and nats.go then never reconnects.
const (
	maxToken   = 64
	maxSubject = 1024
)

// checkSubject validates the subject template: literal tokens of [a-z0-9_-] and placeholders,
// and a longest rendering within maxSubject.
func checkSubject(tmpl string) error {
	if tmpl == "" {
		return errors.New("empty")
	}
	longest := len(strings.Split(tmpl, ".")) - 1 // the dots
	for i, tok := range strings.Split(tmpl, ".") {
		if tok == "" {
			return errors.New("has an empty token (two dots, or a dot at an end)")
		}
		rest := tok
		literal := true
		for rest != "" {
			open := strings.IndexByte(rest, '{')
			if open < 0 {
				break
			}
			end := strings.IndexByte(rest[open:], '}')
			if end < 0 {
				return fmt.Errorf("token %q has an unclosed {", tok)
			}
			name := rest[open+1 : open+end]
			if !slices.Contains(placeholders, name) {
				return fmt.Errorf("unknown placeholder {%s}", name)
			}
			literal = false
			rest = rest[:open] + rest[open+end+1:]
		}
		if !literalRE.MatchString(rest) {
			return fmt.Errorf("token %q has characters other than a-z 0-9 _ - outside placeholders", tok)
		}
		if i == 0 && !literal {
			return errors.New("the first token must be literal: it also prefixes the dead-letter subject")
		}
		switch {
		case !literal:
			longest += maxToken
		case len(tok) > maxToken:
			return fmt.Errorf("token %q is longer than %d characters", tok, maxToken)
		default:
			longest += len(tok)
		}
	}
	if longest > maxSubject {
		return fmt.Errorf("renders up to %d characters (up to %d per token with a placeholder), more than %d: use fewer or shorter tokens", longest, maxToken, maxSubject)
	}
	return nil
}

func (c *checker) tenant(key string, f *fileTenant, base timing) (Tenant, []timing) {
	var t Tenant
	t.Name = str(f.Name, "")
	switch {
	case f.Name == nil:
		c.errorf(key+".name", "missing; want %s", keyDocs["tenant.name"])
	case !nameRE.MatchString(t.Name):
		c.invalid(key+".name", "%s is not a valid name", quote(t.Name))
	}
	t.TenantID = c.guid(key+".tenant_id", f.TenantID)
	t.ClientID = c.guid(key+".client_id", f.ClientID)

	cloud := str(f.Cloud, defaultCloud)
	var ok bool
	if t.Cloud, ok = LookupCloud(cloud); !ok {
		c.invalid(key+".cloud", "%s is not a cloud", quote(cloud))
	}
	t.AuthorityHost = t.Cloud.AuthorityHost
	if h := str(f.AuthorityHost, ""); h != "" {
		if u, ok := c.httpsURL(key+".authority_host", h, false); ok {
			t.AuthorityHost = u
			if host := hostOf(u); !IsMicrosoftLoginHost(u) && !isLoopback(host) {
				c.warnf(key+".authority_host", "%q is not a Microsoft Entra ID login host (%s): the client secret or assertion is sent there; fine for a test service, otherwise check for a typo", host, strings.Join(microsoftLoginHosts, ", "))
			}
		}
	}
	t.Credential = c.credential(key, f)

	tm := c.timing(key, f.fileTiming, base)
	var timings []timing
	for _, api := range apis.All() {
		var s Source
		s, timings = c.source(key+"."+api.Name, api, f.Sources[api.Name], t.Cloud, tm, timings)
		t.All = append(t.All, s)
	}
	if len(t.Sources()) == 0 {
		c.warnf(key, "tenant %s has no enabled source (%s); it exports nothing", quote(t.Name), apis.Names("[tenant.%s]"))
	}
	return t, timings
}

func (c *checker) guid(key string, p *string) string {
	switch {
	case p == nil:
		c.errorf(key, "missing; want %s", keyDocs[schemaKey(key)])
		return ""
	case !guidRE.MatchString(*p):
		c.invalid(key, "%s is not a GUID", quote(*p))
	case *p == zeroGUID:
		c.warnf(key, "is the all-zero placeholder; replace it with your own ID")
	}
	return strings.ToLower(*p)
}

func (c *checker) credential(key string, f *fileTenant) Credential {
	var set []Credential
	for _, cr := range []struct {
		kind CredentialKind
		val  *string
	}{{SecretEnv, f.ClientSecretEnv}, {SecretFile, f.ClientSecretFile}, {CertificateFile, f.CertificateFile}, {FederatedTokenFile, f.FederatedTokenFile}} {
		if cr.val != nil && *cr.val != "" {
			set = append(set, Credential{Kind: cr.kind, Value: *cr.val})
		}
	}
	switch len(set) {
	case 0:
		c.errorf(key, "no credential; set exactly one of client_secret_env, client_secret_file, certificate_file, federated_token_file")
		return Credential{}
	case 1:
	default:
		c.errorf(key+"."+string(set[1].Kind), "set together with %s; a tenant has exactly one credential, keep one of them", set[0].Kind)
	}
	if set[0].Kind == SecretEnv {
		c.envName(key+".client_secret_env", set[0].Value)
	}
	return set[0]
}

// httpsURL checks an https URL (TLS verification is never turned off) and returns it without a
// trailing slash.
func (c *checker) httpsURL(key, s string, allowPath bool) (string, bool) {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "":
		c.invalid(key, "%s is not a URL", quote(displayURL(s)))
	case u.Scheme != "https":
		c.invalid(key, "%s is not https://", quote(displayURL(s)))
	case u.User != nil:
		c.errorf(key, "%s contains credentials; URLs here never carry secrets", quote(displayURL(s)))
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		c.invalid(key, "%s has a query or fragment", quote(displayURL(s)))
	case !allowPath && strings.Trim(u.Path, "/") != "":
		c.invalid(key, "%s has a path (the tenant ID is added from tenant_id)", quote(displayURL(s)))
	default:
		u.Host = strings.ToLower(strings.TrimSuffix(u.Host, ":443"))
		return strings.TrimRight(u.String(), "/"), true
	}
	return "", false
}

func (c *checker) source(key string, api apis.API, f *fileSource, cloud Cloud, inherit timing, timings []timing) (Source, []timing) {
	s := Source{Kind: SourceKind(api.Name), API: api}
	host := api.Hosts[cloud.Name]
	s.APIURL, s.Scope = host.URL, host.Scope
	tm := inherit
	apiURLBad := false
	s.RateLimits = api.Limits
	var serviceSources []string
	if f != nil {
		// A source is on when its table is present, unless it says enabled = false.
		s.Enabled = f.Enabled == nil || *f.Enabled
		if u := str(f.APIURL, ""); u != "" {
			if u, ok := c.httpsURL(key+".api_url", u, true); ok {
				s.APIURL = u
			}
		}
		apiURLBad = str(f.APIURL, "") != "" && s.APIURL == ""
		s.MinSeverity = str(f.MinSeverity, "")
		if s.MinSeverity != "" && !slices.Contains(severities, s.MinSeverity) {
			c.invalid(key+".min_severity", "%s is not a severity", quote(s.MinSeverity))
		}
		tm = c.timing(key, f.fileTiming, inherit)
		s.RateLimits = c.rateLimits(key+".rate_limits", api, f.RateLimits)
		serviceSources = f.ServiceSources
	}
	s.APIURL = strings.TrimSuffix(s.APIURL, api.URL.Path)
	if api.URL.TenantHosts != nil && s.Enabled && !apiURLBad {
		c.tenantHost(key+".api_url", api, s.APIURL)
	}
	if api.ServiceSources != nil {
		s.ServiceSources = c.serviceSources(key+".service_sources", api, serviceSources)
	}
	s.Schedule, s.Cron, s.Lookback, s.StartFrom = tm.schedule, tm.cron, tm.lookback, tm.startFrom
	if s.Enabled {
		timings = append(timings, tm)
	}
	return s, timings
}

// tenantHost checks the api_url of an API that gives each tenant a host of its own.
func (c *checker) tenantHost(key string, api apis.API, apiURL string) {
	if apiURL == "" {
		c.errorf(key, "missing: the %s API has a host per tenant; want %s", api.Title, keyDocs[schemaKey(key)])
		return
	}
	u, err := url.Parse(apiURL)
	if err != nil {
		return // already reported
	}
	host := strings.ToLower(u.Hostname())
	for _, suffix := range api.URL.TenantHosts {
		if strings.HasSuffix(host, suffix) {
			return
		}
	}
	c.warnf(key, "host %q is not a %s API host (%s); fine for a simulator or a proxy, otherwise %s", host, api.Title, api.URL.HostsDoc, api.URL.Advice)
}

func (c *checker) serviceSources(key string, api apis.API, list []string) []string {
	seen := map[string]bool{}
	for _, s := range list {
		switch {
		case !slices.Contains(api.ServiceSources, s):
			c.errorf(key, "%s is not a Graph serviceSource; want values from %s", quote(s), strings.Join(api.ServiceSources, ", "))
		case seen[s]:
			c.errorf(key, "%s is listed twice", quote(s))
		}
		seen[s] = true
	}
	if len(list) == 0 {
		return nil // [] and absent mean the same: all
	}
	return list
}

// crossTenant finds what each tenant alone cannot: a name used twice, and one Defender tenant
// exported twice (under two names its alerts would be published twice, with different IDs).
func (c *checker) crossTenant(ts []Tenant) {
	names := map[string]int{}
	exported := map[string]int{} // tenant_id + source → index
	for i, t := range ts {
		key := fmt.Sprintf("tenant[%d]", i)
		if j, ok := names[t.Name]; ok && t.Name != "" {
			c.errorf(key+".name", "%s is already the name of tenant[%d] (line %d); names must be unique", quote(t.Name), j, c.lines.line(fmt.Sprintf("tenant[%d]", j)))
		} else {
			names[t.Name] = i
		}
		for _, s := range t.Sources() {
			id := t.TenantID + "/" + string(s.Kind)
			if j, ok := exported[id]; ok && t.TenantID != "" {
				c.errorf(key+".tenant_id", "tenant[%d] (line %d) already exports %s from this tenant ID; every alert would be published twice: enable %s in one of them only", j, c.lines.line(fmt.Sprintf("tenant[%d]", j)), s.Kind, s.Kind)
			} else {
				exported[id] = i
			}
		}
	}
}

// duplicateWindow checks that JetStream can drop what a poll re-reads: a re-exported version
// older than the duplicate window would be stored twice.
func (c *checker) duplicateWindow(f fileNATS, n NATS, maxLookback time.Duration, lookbackKey string) {
	if n.Mode != "jetstream" || n.DuplicateWindow == 0 || n.MaxAge == 0 {
		return
	}
	where := "the built-in default"
	if lookbackKey != "" {
		where = lookbackKey
	}
	key := "nats.duplicate_window"
	if f.DuplicateWindow == nil && lookbackKey != "" {
		key = lookbackKey
	}
	if n.DuplicateWindow < maxLookback {
		c.errorf(key, "nats.duplicate_window (%s) is shorter than the longest lookback (%s, %s), so JetStream could not drop the alerts every poll re-reads; want duplicate_window at least %s and at most max_age (%s)",
			formatDuration(n.DuplicateWindow), formatDuration(maxLookback), where, formatDuration(maxLookback), formatDuration(n.MaxAge))
	}
	if n.DuplicateWindow > n.MaxAge {
		c.errorf("nats.duplicate_window", "%s is longer than max_age (%s); JetStream refuses such a stream; want %s", formatDuration(n.DuplicateWindow), formatDuration(n.MaxAge), keyDocs["nats.duplicate_window"])
	}
}

// formatDuration prints 10m for 10m0s and 24h for 24h0m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
