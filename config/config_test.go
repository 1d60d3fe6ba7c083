package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/alertexport/alertexport/sources/apis"
)

// The sources' names, as the tests write them.
const (
	Endpoint  SourceKind = "endpoint"
	CloudApps SourceKind = "cloudapps"
	Graph     SourceKind = "graph"
)

// envOf returns a LookupEnv over a fixed map, so tests never depend on (or change) the process env.
func envOf(kv ...string) LookupEnv {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// allSet claims every environment variable is set, so only file problems remain.
func allSet(string) (string, bool) { return "value", true }

func mustParse(t *testing.T, doc string, env LookupEnv) (*Config, []Problem) {
	t.Helper()
	cfg, warns, err := Parse("t.toml", []byte(doc), env)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return cfg, warns
}

func problemStrings(ps []Problem) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// wantLines reads the "# want:" header of a corpus file.
func wantLines(t *testing.T, data []byte) string {
	t.Helper()
	var want []string
	for _, l := range strings.Split(string(data), "\n") {
		w, ok := strings.CutPrefix(l, "# want: ")
		if !ok {
			break
		}
		want = append(want, w)
	}
	if len(want) == 0 {
		t.Fatal("corpus file has no # want: line")
	}
	return strings.Join(want, "\n")
}

var update = flag.Bool("update", false, "rewrite the # want: lines of testdata/bad with the messages the code gives now")

// rewriteWant replaces the "# want:" header of a corpus file. Line numbers in the messages
// count the header, so a change in the number of problems needs a second -update run.
func rewriteWant(t *testing.T, path string, data []byte, got string) {
	t.Helper()
	body := string(data)
	for strings.HasPrefix(body, "# want: ") {
		_, body, _ = strings.Cut(body, "\n")
	}
	var head strings.Builder
	for _, l := range strings.Split(got, "\n") {
		head.WriteString("# want: " + l + "\n")
	}
	if err := os.WriteFile(path, []byte(head.String()+body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBadConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("the corpus has %d bad configs; keep at least 30", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = Parse(filepath.Base(f), data, allSet)
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Parse returned %v, want *config.Error", err)
			}
			got, want := err.Error(), wantLines(t, data)
			if got != want && *update {
				rewriteWant(t, f, data, got)
				return
			}
			if got != want {
				t.Errorf("message:\n got: %s\nwant: %s", got, want)
			}
		})
	}
}

func TestShippedConfigIsValid(t *testing.T) {
	placeholders := []string{
		"../config.toml:54: tenant[0].tenant_id: is the all-zero placeholder; replace it with your own ID",
		"../config.toml:55: tenant[0].client_id: is the all-zero placeholder; replace it with your own ID",
	}
	tests := []struct {
		name string
		env  LookupEnv
		want []string
	}{
		{"secret set", envOf("CONTOSO_CLIENT_SECRET", "s3cr3t"), placeholders},
		{"secret not set here", envOf(), append(slices.Clone(placeholders),
			`../config.toml:58: tenant[0].client_secret_env: environment variable CONTOSO_CLIENT_SECRET is not set (it must hold the client secret's value); "run" and "auth check" need it for tenant "contoso"`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, warns, err := Load("../config.toml", tt.env)
			if err != nil {
				t.Fatalf("the shipped config.toml is invalid:\n%v", err)
			}
			if got := problemStrings(warns); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("warnings:\n got %q\nwant %q", got, tt.want)
			}
			if n := len(cfg.Tenants[0].Sources()); n != 2 {
				t.Errorf("enabled sources = %d, want 2 (endpoint, cloudapps)", n)
			}
		})
	}
}

func TestEveryKeyIsDocumentedAndShipped(t *testing.T) {
	data, err := os.ReadFile("testdata/all-keys.toml")
	if err != nil {
		t.Fatal(err)
	}
	c := &checker{file: "all-keys.toml"}
	if _, ok := c.decode(data); !ok {
		t.Fatalf("all-keys.toml does not decode: %v", c.errs)
	}
	var keys []string
	for k := range indexKeys(data) {
		if sk := schemaKey(k); !slices.Contains(tables, sk) {
			keys = append(keys, sk)
		}
	}
	var docs []string
	for k := range keyDocs {
		docs = append(docs, k)
	}
	sort.Strings(keys)
	sort.Strings(docs)
	if !reflect.DeepEqual(keys, docs) {
		t.Errorf("keys in all-keys.toml and keyDocs differ:\nfile: %v\ndocs: %v", keys, docs)
	}
	shipped, err := os.ReadFile("../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	shippedKeys := indexKeys(shipped)
	for _, k := range docs {
		_, name, _ := cutLast(k)
		if !strings.Contains(string(shipped), name+" ") {
			t.Errorf("config.toml does not show %s", k)
		}
		if !strings.Contains(k, "tenant.") || strings.HasSuffix(k, "_file") || strings.HasSuffix(k, "schedule") || strings.HasSuffix(k, "start_from") || strings.HasSuffix(k, "rate_limits") {
			continue
		}
		if shippedKeys.line(strings.Replace(k, "tenant.", "tenant[0].", 1)) == 0 {
			t.Errorf("config.toml has no line for %s", k)
		}
	}
}

// oneTenant is a config's smallest tenant, for tests that add its sources.
const oneTenant = `
[[tenant]]
name = "a"
tenant_id = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
client_id = "0b1c2d3e-4f50-4a6b-8c7d-8e9f0a1b2c3d"
client_secret_env = "S"
`

func TestInheritance(t *testing.T) {
	const head = oneTenant
	tests := []struct {
		name     string
		doc      string
		schedule string
		lookback time.Duration
		start    time.Duration
	}{
		{"built-in defaults", head + "[tenant.endpoint]\n", "@every 1m", 10 * time.Minute, 24 * time.Hour},
		{"[defaults]", "[defaults]\nschedule = \"@every 5m\"\nlookback = \"20m\"\nstart_from = \"48h\"\n" + head + "[tenant.endpoint]\n", "@every 5m", 20 * time.Minute, 48 * time.Hour},
		{"tenant over defaults", "[defaults]\nlookback = \"20m\"\n" + head + "lookback = \"30m\"\n[tenant.endpoint]\n", "@every 1m", 30 * time.Minute, 24 * time.Hour},
		{"source over tenant", "[defaults]\nlookback = \"20m\"\n" + head + "lookback = \"30m\"\nstart_from = \"1h\"\n[tenant.endpoint]\nlookback = \"40m\"\nschedule = \"*/5 * * * *\"\n", "*/5 * * * *", 40 * time.Minute, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := mustParse(t, tt.doc, allSet)
			s := cfg.Tenants[0].Source("endpoint")
			if s.Schedule != tt.schedule || s.Lookback != tt.lookback || s.StartFrom != tt.start || s.Cron == nil {
				t.Errorf("got schedule %q lookback %v start_from %v, want %q %v %v", s.Schedule, s.Lookback, s.StartFrom, tt.schedule, tt.lookback, tt.start)
			}
		})
	}
}

func TestSourceDefaults(t *testing.T) {
	cfg, _ := mustParse(t, `
[[tenant]]
name = "gov"
tenant_id = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
client_id = "0b1c2d3e-4f50-4a6b-8c7d-8e9f0a1b2c3d"
cloud = "gcc-high"
certificate_file = "/etc/alertexport/gov.pem"
[tenant.endpoint]
[tenant.cloudapps]
enabled = false
[tenant.graph]
service_sources = ["microsoftDefenderForEndpoint"]
`, allSet)
	tn := cfg.Tenants[0]
	checks := []struct{ what, got, want string }{
		{"authority", tn.AuthorityHost, "https://login.microsoftonline.us"},
		{"credential", string(tn.Credential.Kind), "certificate_file"},
		{"endpoint api", tn.Source("endpoint").APIURL, "https://api-gov.securitycenter.microsoft.us"},
		{"endpoint scope", tn.Source("endpoint").Scope, "https://api-gov.securitycenter.microsoft.us/.default"},
		{"graph api", tn.Source("graph").APIURL, "https://graph.microsoft.us"},
		{"graph scope", tn.Source("graph").Scope, "https://graph.microsoft.us/.default"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	var kinds []SourceKind
	for _, s := range tn.Sources() {
		kinds = append(kinds, s.Kind)
	}
	if !reflect.DeepEqual(kinds, []SourceKind{Endpoint, Graph}) {
		t.Errorf("enabled sources %v, want [endpoint graph] (a table turns a source on; enabled = false off)", kinds)
	}
}

func TestNormalization(t *testing.T) {
	cfg, _ := mustParse(t, `
[[tenant]]
name = "a"
tenant_id = "6F1C2A3B-4D5E-4F60-8A7B-9C0D1E2F3A4B"
client_id = "0b1c2d3e-4f50-4a6b-8c7d-8e9f0a1b2c3d"
client_secret_file = "/run/secrets/a"
authority_host = "https://127.0.0.1:8443/"
[tenant.cloudapps]
api_url = "https://a.us2.portal.cloudappsecurity.com/api/"
`, allSet)
	tn := cfg.Tenants[0]
	if tn.TenantID != "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b" {
		t.Errorf("tenant_id %q, want lower case", tn.TenantID)
	}
	if tn.AuthorityHost != "https://127.0.0.1:8443" {
		t.Errorf("authority %q, want no trailing slash", tn.AuthorityHost)
	}
	if tn.Source("cloudapps").APIURL != "https://a.us2.portal.cloudappsecurity.com" {
		t.Errorf("cloudapps api_url %q, want the portal's /api suffix removed", tn.Source("cloudapps").APIURL)
	}
}

func TestWarnings(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(notPEM, []byte("not a pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	tenant := func(cred string) string {
		return "[[tenant]]\nname = \"a\"\ntenant_id = \"6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b\"\nclient_id = \"0b1c2d3e-4f50-4a6b-8c7d-8e9f0a1b2c3d\"\n" + cred + "\n"
	}
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"secret env empty", tenant(`client_secret_env = "EMPTY"`) + "[tenant.endpoint]\n",
			`t.toml:5: tenant[0].client_secret_env: environment variable EMPTY is empty (it must hold the client secret's value); "run" and "auth check" need it for tenant "a"`},
		{"secret file missing", tenant(`client_secret_file = "/nonexistent/secret"`) + "[tenant.endpoint]\n",
			`t.toml:5: tenant[0].client_secret_file: client_secret_file "/nonexistent/secret" cannot be read: no such file or directory; "run" and "auth check" need it for tenant "a"`},
		{"certificate not PEM", tenant(`certificate_file = "`+notPEM+`"`) + "[tenant.endpoint]\n",
			`t.toml:5: tenant[0].certificate_file: certificate_file "` + notPEM + `": no PEM blocks; want the certificate and its private key in PEM form; "run" and "auth check" need it for tenant "a"`},
		{"no enabled source", tenant(`client_secret_env = "S"`) + "[tenant.endpoint]\nenabled = false\n",
			`t.toml:1: tenant[0]: tenant "a" has no enabled source ([tenant.endpoint], [tenant.cloudapps], [tenant.graph] or [tenant.incidents]); it exports nothing`},
		{"cloud apps host", tenant(`client_secret_env = "S"`) + "[tenant.cloudapps]\napi_url = \"https://127.0.0.1:8443\"\n",
			`t.toml:7: tenant[0].cloudapps.api_url: host "127.0.0.1" is not a Defender for Cloud Apps API host (<tenant>.<region>.portal.cloudappsecurity.com, or .portal.cloudappsecuritygov.com for GCC, .portal.cloudappsecurity.us for GCC High); fine for a simulator or a proxy, otherwise copy the API URL from the Microsoft Defender portal (Settings → Cloud Apps → System → About)`},
		{"embedded listen on all interfaces with credentials", "[nats]\nembedded_listen = \"0.0.0.0:4222\"\ntoken_env = \"S\"\n" + tenant(`client_secret_env = "S"`) + "[tenant.endpoint]\n",
			`t.toml:2: nats.embedded_listen: "0.0.0.0:4222" is not a loopback address and the embedded server has no TLS: its clients' credentials and every alert cross the network in plain text; keep it to a network you trust, or use an external NATS server with TLS (nats.url)`},
		{"password over plain nats to a remote host", "[nats]\nurl = \"nats://n1:4222, nats://127.0.0.1:4222,nats://n2:4222\"\nuser = \"ax\"\npassword_env = \"S\"\n" + tenant(`client_secret_env = "S"`) + "[tenant.endpoint]\n",
			`t.toml:2: nats.url: "nats://n1:4222", "nats://n2:4222": plain text to a host that is not loopback, and no TLS is configured (no tls:// URL, ca_file or cert_file): the credentials (nats.user) and every alert cross the network unencrypted unless the server requires TLS (nats.go then upgrades the connection); write tls://host:port or set ca_file to insist on TLS`},
		{"token over plain websocket to a remote host", "[nats]\nurl = \"ws://n1:8080\"\ntoken_env = \"S\"\n" + tenant(`client_secret_env = "S"`) + "[tenant.endpoint]\n",
			`t.toml:2: nats.url: "ws://n1:8080": plain text to a host that is not loopback, and no TLS is configured (no tls:// URL, ca_file or cert_file): the credentials (nats.token_env) and every alert cross the network unencrypted unless the server requires TLS (nats.go then upgrades the connection); write tls://host:port or set ca_file to insist on TLS`},
		{"TLS keys with the embedded server", "[nats]\nca_file = \"/nonexistent/ca.pem\"\n" + tenant(`client_secret_env = "S"`) + "[tenant.endpoint]\n",
			`t.toml:1: nats.url: empty, so the embedded server is used; it has no TLS, and ca_file, cert_file and key_file (for an external server) are ignored`},
		{"authority host not Microsoft's", tenant(`client_secret_env = "S"`+"\nauthority_host = \"https://LOGIN.example.com:443/\"") + "[tenant.endpoint]\n",
			`t.toml:6: tenant[0].authority_host: "login.example.com" is not a Microsoft Entra ID login host (login.microsoftonline.com, login.microsoft.com, login.windows.net, sts.windows.net, login.microsoftonline.us, login-us.microsoftonline.com, login.usgovcloudapi.net): the client secret or assertion is sent there; fine for a test service, otherwise check for a typo`},
		{"metrics on all interfaces", "[worker]\nhttp_addr = \":9464\"\n" + tenant(`client_secret_env = "S"`) + "[tenant.endpoint]\n",
			`t.toml:2: worker.http_addr: ":9464" is not a loopback address: /metrics and the health endpoints are open to anyone who reaches it`},
		{"ca_file missing", "[worker]\nca_file = \"/nonexistent/ca.pem\"\n" + tenant(`client_secret_env = "S"`) + "[tenant.endpoint]\n",
			`t.toml:2: worker.ca_file: worker.ca_file "/nonexistent/ca.pem" cannot be read: no such file or directory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, warns := mustParse(t, tt.doc, envOf("S", "x", "EMPTY", " "))
			if got := problemStrings(warns); !reflect.DeepEqual(got, []string{tt.want}) {
				t.Errorf("warnings:\n got %q\nwant %q", got, []string{tt.want})
			}
		})
	}
}

func TestByteOrderMarkIsIgnored(t *testing.T) {
	data, err := os.ReadFile("../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Parse("bom.toml", append([]byte("\xef\xbb\xbf"), data...), allSet); err != nil {
		t.Errorf("a config saved with a BOM: %v", err)
	}
}

func TestCertificateKeyMustBeRSA(t *testing.T) {
	ecKey := "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n-----BEGIN EC PRIVATE KEY-----\nMA==\n-----END EC PRIVATE KEY-----\n"
	if err := CheckCertificatePEM([]byte(ecKey)); err == nil || !strings.Contains(err.Error(), "not RSA") {
		t.Errorf("an EC key: %v", err)
	}
}

func TestRenderRoundTrip(t *testing.T) {
	for _, f := range []string{"../config.toml", "testdata/good.toml", "testdata/cluster.toml"} {
		t.Run(f, func(t *testing.T) {
			cfg, _, err := Load(f, allSet)
			if err != nil {
				t.Fatal(err)
			}
			out := Render(cfg, allSet)
			again, _, err := Parse(f, []byte(out), allSet)
			if err != nil {
				t.Fatalf("Render output does not load:\n%s\n%v", out, err)
			}
			if !reflect.DeepEqual(cfg, again) {
				t.Errorf("Render then Parse changed the config:\n%s", out)
			}
		})
	}
}

func TestRenderNeverShowsSecrets(t *testing.T) {
	cfg, _ := mustParse(t, `
[[tenant]]
name = "a"
tenant_id = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
client_id = "0b1c2d3e-4f50-4a6b-8c7d-8e9f0a1b2c3d"
client_secret_env = "A_SECRET"
[tenant.endpoint]
`, envOf("A_SECRET", "very-secret-value"))
	cfg.NATS.URL = "nats://user:hunter2@n:4222,nats://tok3n@m:4222" // Parse refuses these; Render must still hide them
	out := Render(cfg, envOf("A_SECRET", "very-secret-value"))
	for _, secret := range []string{"very-secret-value", "hunter2", "tok3n"} {
		if strings.Contains(out, secret) {
			t.Errorf("Render shows %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, `client_secret_env = "A_SECRET"  # readable here (value not shown)`) {
		t.Errorf("Render does not say where the secret comes from:\n%s", out)
	}
}

func TestCronParserPanicsAreRecovered(t *testing.T) {
	// robfig/cron v3.0.1 panics on these (robfig/cron#554, #555); validation must not.
	for _, spec := range []string{"TZ=UTC", "CRON_TZ="} {
		if _, err := safeParseCron(spec); err == nil || !strings.Contains(err.Error(), "cannot read it") {
			t.Errorf("safeParseCron(%q) = %v, want a recovered error", spec, err)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, _, err := Load("/nonexistent/alertexport.toml", allSet)
	want := "/nonexistent/alertexport.toml: no such file; pass --config FILE or set ALERTEXPORT_CONFIG (a commented example is config.toml in the repository)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.toml")
	files = append(files, "testdata/all-keys.toml", "../config.toml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, _, err := Parse("f.toml", data, allSet)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v", cfg != nil, err)
		}
		if err == nil {
			Render(cfg, allSet)
		}
	})
}

// BenchmarkLoadShippedConfig measures start-up's config cost (read, index, decode, validate).
func BenchmarkLoadShippedConfig(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Load("../config.toml", allSet); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse1000Tenants measures an MSSP's config: 1,000 tenants with two sources each.
func BenchmarkParse1000Tenants(b *testing.B) {
	var doc strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&doc, "[[tenant]]\nname = \"t%03d\"\ntenant_id = \"5c0e2f4a-1b3d-4e5f-8a7b-%012x\"\n"+
			"client_id = \"0b1c2d3e-4f50-4a6b-8c7d-8e9f0a1b2c3d\"\nclient_secret_env = \"S\"\n"+
			"[tenant.endpoint]\nenabled = true\n[tenant.cloudapps]\napi_url = \"https://a.us2.portal.cloudappsecurity.com\"\n", i, i+1)
	}
	data := []byte(doc.String())
	env := func(string) (string, bool) { return "secret", true }
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Parse("config.toml", data, env); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRateLimits: rate_limits replaces a source's documented limits (absent, they are the
// default); a rate above Microsoft's is a warning that names the documented limit; validate
// prints the effective limits.
func TestRateLimits(t *testing.T) {
	const head = oneTenant
	const cloudApps = "[tenant.cloudapps]\napi_url = \"https://a.us2.portal.cloudappsecurity.com\"\n"
	tests := []struct {
		name    string
		doc     string
		kind    SourceKind
		want    []apis.Limit
		warning string // "" = none
		printed string
	}{
		{"absent: documented", head + "[tenant.endpoint]\n", Endpoint,
			[]apis.Limit{{Requests: 100, Per: time.Minute}, {Requests: 1500, Per: time.Hour}}, "",
			`rate_limits = ["100/1m", "1500/1h"]  # Microsoft's documented limits`},
		{"absent, source off: documented", head + "[tenant.endpoint]\n", Graph,
			[]apis.Limit{{Requests: 150, Per: time.Minute}}, "", `rate_limits = ["150/1m"]  # Microsoft's documented limits`},
		{"a share of the budget", head + cloudApps + "rate_limits = [\"15/1m\"]\n", CloudApps,
			[]apis.Limit{{Requests: 15, Per: time.Minute}}, "", `rate_limits = ["15/1m"]  # Microsoft documents "30/1m"`},
		{"both windows lower", head + "[tenant.endpoint]\nrate_limits = [\"50/1m\", \" 750 / 1h \"]\n", Endpoint,
			[]apis.Limit{{Requests: 50, Per: time.Minute}, {Requests: 750, Per: time.Hour}}, "", `rate_limits = ["50/1m", "750/1h"]`},
		{"the hour alone, lower", head + "[tenant.endpoint]\nrate_limits = [\"1000/1h\"]\n", Endpoint,
			[]apis.Limit{{Requests: 1000, Per: time.Hour}}, "", `rate_limits = ["1000/1h"]`},
		{"the same rate in other words", head + cloudApps + "rate_limits = [\"1/2s\"]\n", CloudApps,
			[]apis.Limit{{Requests: 1, Per: 2 * time.Second}}, "", `rate_limits = ["1/2s"]`},
		{"above the documented rate", head + cloudApps + "rate_limits = [\"40/1m\"]\n", CloudApps,
			[]apis.Limit{{Requests: 40, Per: time.Minute}},
			`t.toml:9: tenant[0].cloudapps.rate_limits: let through 40 calls per 1m in the long run, more than Microsoft documents for the Defender for Cloud Apps API ("30/1m"): the API will answer 429 (Too Many Requests) and the export will wait; fine only if Microsoft raised the limit`,
			`rate_limits = ["40/1m"]`},
		{"the hour's limit left out", head + "[tenant.endpoint]\nrate_limits = [\"100/1m\"]\n", Endpoint,
			[]apis.Limit{{Requests: 100, Per: time.Minute}},
			`t.toml:8: tenant[0].endpoint.rate_limits: let through 6000 calls per 1h in the long run, more than Microsoft documents for the Defender for Endpoint API ("100/1m", "1500/1h"): the API will answer 429 (Too Many Requests) and the export will wait; fine only if Microsoft raised the limit`,
			`rate_limits = ["100/1m"]`},
		{"scaled down in time", head + "[tenant.graph]\napi_url = \"https://127.0.0.1:1\"\nrate_limits = [\"150/1s\"]\n", Graph,
			[]apis.Limit{{Requests: 150, Per: time.Second}},
			`t.toml:9: tenant[0].graph.rate_limits: let through 9000 calls per 1m in the long run, more than Microsoft documents for the Microsoft Graph alerts_v2 API ("150/1m"): the API will answer 429 (Too Many Requests) and the export will wait; fine only if Microsoft raised the limit`,
			`rate_limits = ["150/1s"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, warns := mustParse(t, tt.doc, allSet)
			var s Source
			for _, src := range cfg.Tenants[0].All {
				if src.Kind == tt.kind {
					s = src
				}
			}
			if !reflect.DeepEqual(s.RateLimits, tt.want) {
				t.Errorf("%s rate limits %v, want %v", tt.kind, s.RateLimits, tt.want)
			}
			var want []string
			if tt.warning != "" {
				want = []string{tt.warning}
			}
			if got := problemStrings(warns); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Errorf("warnings:\n got %q\nwant %q", got, want)
			}
			if out := Render(cfg, allSet); !strings.Contains(out, tt.printed) {
				t.Errorf("validate's output lacks %s:\n%s", tt.printed, out)
			}
		})
	}
}

// TestEmbeddedListenNeedsCredentials: the embedded server listens beyond loopback only with
// credentials it can require (user + password_env, token_env, nkey_seed_file); a .creds file
// cannot secure it.
func TestEmbeddedListenNeedsCredentials(t *testing.T) {
	tests := []struct {
		name string
		nats string
		err  string // "" = valid
	}{
		{"loopback without credentials", `embedded_listen = "127.0.0.1:4222"`, ""},
		{"localhost without credentials", `embedded_listen = "localhost:4222"`, ""},
		{"IPv6 loopback without credentials", `embedded_listen = "[::1]:4222"`, ""},
		{"loopback with a token", "embedded_listen = \"127.0.0.1:4222\"\ntoken_env = \"T\"", ""},
		{"all interfaces without credentials", `embedded_listen = "0.0.0.0:4222"`, `"0.0.0.0:4222" is not a loopback address and the embedded server has no credentials`},
		{"empty host without credentials", `embedded_listen = ":4222"`, `":4222" is not a loopback address and the embedded server has no credentials`},
		{"a host name without credentials", `embedded_listen = "exporter.internal:4222"`, `"exporter.internal:4222" is not a loopback address and the embedded server has no credentials`},
		{"all interfaces with user and password", "embedded_listen = \"0.0.0.0:4222\"\nuser = \"ax\"\npassword_env = \"P\"", ""},
		{"all interfaces with a token", "embedded_listen = \"0.0.0.0:4222\"\ntoken_env = \"T\"", ""},
		{"all interfaces with an nkey", "embedded_listen = \"0.0.0.0:4222\"\nnkey_seed_file = \"/etc/alertexport/nats.nk\"", ""},
		{"all interfaces with a creds file", "embedded_listen = \"0.0.0.0:4222\"\ncreds_file = \"/etc/alertexport/nats.creds\"", "nats.creds_file: cannot secure the embedded server"},
		{"a creds file without a listener", `creds_file = "/etc/alertexport/nats.creds"`, "nats.creds_file: cannot secure the embedded server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse("t.toml", []byte("[nats]\n"+tt.nats+"\n"+oneTenant+"[tenant.endpoint]\n"), allSet)
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("got %v, want an error containing %q", err, tt.err)
			}
		})
	}
}

// TestNoPlainTextWarningWhenTLSOrLoopback: the plain-text warning is for credentials sent to a
// remote host with nothing insisting on TLS.
func TestNoPlainTextWarningWhenTLSOrLoopback(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, nats := range []string{
		"url = \"tls://n1:4222\"\ntoken_env = \"S\"",
		"url = \"nats://n1:4222,tls://n2:4222\"\ntoken_env = \"S\"", // nats.go then insists on TLS for the whole list
		"url = \"wss://n1:443\"\ntoken_env = \"S\"",
		"url = \"nats://n1:4222\"\ntoken_env = \"S\"\nca_file = \"" + ca + "\"",
		"url = \"nats://127.0.0.1:4222,nats://localhost:4223\"\nuser = \"ax\"\npassword_env = \"S\"",
		"url = \"nats://n1:4222\"", // no credentials
	} {
		t.Run(nats, func(t *testing.T) {
			_, warns := mustParse(t, "[nats]\n"+nats+"\n"+oneTenant+"[tenant.endpoint]\n", envOf("S", "x"))
			if len(warns) > 0 {
				t.Errorf("warnings: %q", problemStrings(warns))
			}
		})
	}
}

// TestEmbeddedCredentialsAreCheckedHere: with url = "" the embedded server requires the
// credentials, so a missing variable or file is an environment problem run refuses.
func TestEmbeddedCredentialsAreCheckedHere(t *testing.T) {
	for _, tt := range []struct{ nats, want string }{
		{"user = \"ax\"\npassword_env = \"NATS_PW\"", "t.toml:3: nats.password_env: environment variable NATS_PW is not set here"},
		{"token_env = \"NATS_TOKEN\"", "t.toml:2: nats.token_env: environment variable NATS_TOKEN is not set here"},
		{"nkey_seed_file = \"/nonexistent/seed\"", `t.toml:2: nats.nkey_seed_file: nats.nkey_seed_file "/nonexistent/seed" cannot be read: no such file or directory`},
	} {
		t.Run(tt.nats, func(t *testing.T) {
			_, warns := mustParse(t, "[nats]\n"+tt.nats+"\n"+oneTenant+"[tenant.endpoint]\n", envOf("S", "x"))
			if len(warns) != 1 || warns[0].String() != tt.want || !warns[0].Environment {
				t.Errorf("warnings: %q, want [%q] as an environment problem", problemStrings(warns), tt.want)
			}
		})
	}
}
