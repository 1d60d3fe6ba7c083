package config

import (
	"fmt"
	"strings"

	"github.com/alertexport/alertexport/sources/apis"
)

// keyDocs says, for every key of the schema (array indexes stripped), what a valid value is.
// Messages about a key end with this text; config_test.go checks that it matches the file types
// and that config.toml shows every key.
var keyDocs = withAPIKeys(map[string]string{
	"log.level":  `one of "debug", "info", "warn", "error"`,
	"log.format": `"json" or "text"`,

	"worker.data_dir":  `a directory path for the embedded NATS store and file checkpoints, e.g. "./data"`,
	"worker.http_addr": `host:port for /healthz, /readyz and /metrics, e.g. "127.0.0.1:9464", or "" for none`,
	"worker.ca_file":   `a PEM file of extra CA certificates to trust for Entra ID and the Defender APIs, or ""`,
	"worker.lease_ttl": `a duration from "3s" to "10m" such as "30s": how soon another replica takes over the jobs of one that died`,

	"nats.url":              `"" for the embedded server, or nats://, tls://, ws:// or wss:// URLs separated by commas, e.g. "nats://nats-1:4222,nats://nats-2:4222"`,
	"nats.mode":             `"jetstream" (acknowledged, de-duplicated) or "core" (fire-and-forget)`,
	"nats.subject":          `dot-separated tokens of a-z 0-9 _ - and the placeholders {source} {tenant} {severity} {event} {category}, starting with a literal token, e.g. "alerts.{source}.{tenant}.{severity}"`,
	"nats.stream":           `a stream name of letters, digits, _ and -, e.g. "ALERTS"`,
	"nats.duplicate_window": `a duration such as "2h": at least the longest lookback and at most max_age`,
	"nats.max_age":          `a duration such as "720h" (30 days), at least duplicate_window`,
	"nats.replicas":         `1, 3 or 5: the replica count of the stream and the KV buckets on a JetStream cluster (at most its number of JetStream servers); leave it out to keep the count of an existing stream`,
	"nats.embedded_listen":  `host:port where the embedded server listens for outside clients, e.g. "127.0.0.1:4222", or "" for none; beyond loopback only with user + password_env, token_env or nkey_seed_file`,
	"nats.creds_file":       `the path of a NATS .creds file, or ""`,
	"nats.nkey_seed_file":   `the path of an NKey seed file, or ""`,
	"nats.token_env":        `the name of an environment variable holding the NATS token, e.g. "NATS_TOKEN", or ""`,
	"nats.user":             `a NATS user name (with password_env), or ""`,
	"nats.password_env":     `the name of an environment variable holding the NATS password, e.g. "NATS_PASSWORD", or ""`,
	"nats.ca_file":          `a PEM file of CA certificates for TLS to NATS, or ""`,
	"nats.cert_file":        `the PEM client certificate for mutual TLS (with key_file), or ""`,
	"nats.key_file":         `the PEM private key for mutual TLS (with cert_file), or ""`,

	"defaults.schedule":   scheduleDoc,
	"defaults.lookback":   lookbackDoc,
	"defaults.start_from": startFromDoc,

	"tenant.name":                 `1 to 64 characters of a-z 0-9 _ -, unique, e.g. "contoso"`,
	"tenant.tenant_id":            `the Directory (tenant) ID from the app registration's Overview page, a GUID like "00000000-0000-0000-0000-000000000000"`,
	"tenant.client_id":            `the Application (client) ID from the app registration's Overview page, a GUID like "00000000-0000-0000-0000-000000000000"`,
	"tenant.cloud":                `one of "public", "gcc", "gcc-high", "dod"`,
	"tenant.client_secret_env":    `the name of an environment variable holding the client secret's value, e.g. "CONTOSO_CLIENT_SECRET"`,
	"tenant.client_secret_file":   `the path of a file holding the client secret's value, e.g. "/run/secrets/contoso"`,
	"tenant.certificate_file":     `the path of a PEM file with the certificate and its unencrypted RSA private key`,
	"tenant.federated_token_file": `the path of a federated (workload identity) token file, e.g. "/var/run/secrets/azure/tokens/azure-identity-token"`,
	"tenant.authority_host":       `an https:// URL of the Entra ID login host without a path, e.g. "https://login.microsoftonline.us", or "" for the cloud's`,
	"tenant.schedule":             scheduleDoc,
	"tenant.lookback":             lookbackDoc,
	"tenant.start_from":           startFromDoc,
})

// withAPIKeys adds to docs the keys of every API's table [tenant.<name>].
func withAPIKeys(docs map[string]string) map[string]string {
	for _, api := range apis.All() {
		k := "tenant." + api.Name + "."
		docs[k+"enabled"] = `true or false`
		docs[k+"api_url"] = api.URL.Doc
		docs[k+"min_severity"] = minSeverityDoc
		docs[k+"schedule"] = scheduleDoc
		docs[k+"lookback"] = lookbackDoc
		docs[k+"start_from"] = startFromDoc
		docs[k+"rate_limits"] = rateLimitsDoc + ", e.g. " + documentedLimits(api.Limits)
		if api.ServiceSources != nil {
			docs[k+"service_sources"] = `a list of Graph serviceSource values, e.g. ["microsoftDefenderForEndpoint", "microsoftDefenderForCloudApps"], or [] for all`
		}
	}
	return docs
}

// documentedLimits writes an API's documented limits as rate_limits takes them.
func documentedLimits(ls []apis.Limit) string {
	q := make([]string, len(ls))
	for i, l := range ls {
		q[i] = fmt.Sprintf("%q", l.String())
	}
	what := "limit"
	if len(ls) > 1 {
		what = "limits"
	}
	return fmt.Sprintf("[%s] (Microsoft's documented %s, the default)", strings.Join(q, ", "), what)
}

const (
	scheduleDoc    = `a cron spec evaluated in UTC with 5 fields (minute hour day-of-month month day-of-week) such as "*/5 * * * *", or a descriptor such as "@every 1m" or "@hourly"`
	lookbackDoc    = `a duration such as "10m": how much of the past every poll re-reads to catch alerts indexed late`
	startFromDoc   = `a duration such as "24h" or "720h" (30 days): how far back a job's very first poll reaches`
	minSeverityDoc = `"" (all alerts) or one of "informational", "low", "medium", "high"`
	rateLimitsDoc  = `a list of "N/duration" strings, each at most N calls to this API in any span of that duration`
)
