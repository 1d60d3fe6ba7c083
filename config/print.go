package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Render prints the effective configuration as TOML that Load reads back to the same Config.
// Secrets never appear: the file only names where they come from, and URLs lose any user info.
// Derived values (token scopes, whether a secret is readable here) are comments.
func Render(cfg *Config, env LookupEnv) string {
	var w tomlWriter
	w.comment("effective configuration of %s: defaults applied, secrets never shown", cfg.Path)
	w.table("log")
	w.kv("level", strings.ToLower(cfg.Log.Level.String()), "")
	w.kv("format", cfg.Log.Format, "")

	w.table("worker")
	w.kv("data_dir", cfg.Worker.DataDir, "")
	w.kv("http_addr", cfg.Worker.HTTPAddr, onOff(cfg.Worker.HTTPAddr != "", "", "no HTTP listener"))
	w.kv("ca_file", cfg.Worker.CAFile, onOff(cfg.Worker.CAFile != "", "added to the system roots", "system roots only"))
	w.kv("lease_ttl", formatDuration(cfg.Worker.LeaseTTL), "jetstream mode: a dead replica's jobs move within it")

	n := cfg.NATS
	w.table("nats")
	w.kv("url", displayURL(n.URL), onOff(n.URL == "", "embedded server in data_dir", ""))
	w.kv("mode", n.Mode, "")
	w.kv("subject", n.Subject, "")
	w.kv("stream", n.Stream, "")
	w.kv("duplicate_window", formatDuration(n.DuplicateWindow), "")
	w.kv("max_age", formatDuration(n.MaxAge), "")
	if n.Replicas != 0 {
		w.kv("replicas", n.Replicas, "stream and KV buckets")
	}
	for _, o := range []struct{ key, val string }{
		{"embedded_listen", n.EmbeddedListen}, {"creds_file", n.CredsFile}, {"nkey_seed_file", n.NkeySeedFile},
		{"token_env", n.TokenEnv}, {"user", n.User}, {"password_env", n.PasswordEnv},
		{"ca_file", n.CAFile}, {"cert_file", n.CertFile}, {"key_file", n.KeyFile},
	} {
		if o.val != "" {
			w.kv(o.key, o.val, "")
		}
	}

	for _, t := range cfg.Tenants {
		w.arrayTable("tenant")
		w.kv("name", t.Name, "")
		w.kv("tenant_id", t.TenantID, "")
		w.kv("client_id", t.ClientID, "")
		w.kv("cloud", t.Cloud.Name, "")
		w.kv("authority_host", t.AuthorityHost, "")
		status := "readable here (value not shown)"
		if _, err := t.Credential.Read(env); err != nil {
			status = "NOT readable here: " + err.Error()
		}
		w.kv(string(t.Credential.Kind), t.Credential.Value, status)
		for _, s := range t.All {
			w.table("tenant." + string(s.Kind))
			w.kv("enabled", s.Enabled, "")
			w.kv("api_url", s.APIURL, "token scope "+s.Scope)
			w.kv("min_severity", s.MinSeverity, onOff(s.MinSeverity == "", "all severities", ""))
			if s.API.ServiceSources != nil {
				w.kv("service_sources", s.ServiceSources, onOff(len(s.ServiceSources) == 0, "all", ""))
			}
			w.kv("schedule", s.Schedule, "UTC")
			w.kv("lookback", formatDuration(s.Lookback), "")
			w.kv("start_from", formatDuration(s.StartFrom), "")
			documented := s.API.Limits
			w.kv("rate_limits", rateLimitStrings(s.RateLimits), onOff(slices.Equal(s.RateLimits, documented),
				"Microsoft's documented limits", "Microsoft documents "+formatLimits(documented)))
		}
	}
	return w.String()
}

func onOff(cond bool, yes, no string) string {
	if cond {
		return yes
	}
	return no
}

type tomlWriter struct{ strings.Builder }

func (w *tomlWriter) comment(format string, args ...any) {
	fmt.Fprintf(w, "# %s\n", fmt.Sprintf(format, args...))
}

func (w *tomlWriter) table(name string)      { fmt.Fprintf(w, "\n[%s]\n", name) }
func (w *tomlWriter) arrayTable(name string) { fmt.Fprintf(w, "\n[[%s]]\n", name) }

func (w *tomlWriter) kv(key string, v any, note string) {
	var s string
	switch v := v.(type) {
	case string:
		s = quote(v)
	case bool, int:
		s = fmt.Sprint(v)
	case []string:
		q := make([]string, len(v))
		for i, e := range v {
			q[i] = quote(e)
		}
		s = "[" + strings.Join(q, ", ") + "]"
	case time.Duration:
		s = quote(formatDuration(v))
	}
	if note != "" {
		fmt.Fprintf(w, "%s = %s  # %s\n", key, s, strings.ReplaceAll(note, "\n", " "))
		return
	}
	fmt.Fprintf(w, "%s = %s\n", key, s)
}

// quote renders s as a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

var userinfoRE = regexp.MustCompile(`^(\s*[A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@`)

// displayURL is a URL (or a comma-separated list of them) as output may show it: no user info
// (which may be a password or token), no query or fragment (which may carry a code or key). It
// works on strings url.Parse rejects.
func displayURL(list string) string {
	parts := strings.Split(list, ",")
	for i, s := range parts {
		s = userinfoRE.ReplaceAllString(s, "${1}REDACTED@")
		if j := strings.IndexAny(s, "?#"); j >= 0 {
			s = s[:j] + "?…"
		}
		parts[i] = s
	}
	return strings.Join(parts, ",")
}
