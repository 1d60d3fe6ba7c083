package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/sources/apis"
)

type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs the command in-process with its own environment.
func runCLI(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	c := cli{stdout: &out, stderr: &errOut, now: time.Now, env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	code := run(t.Context(), args, c)
	return result{code, out.String(), errOut.String()}
}

func TestUsageAndExitCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		code int
		out  string // substring of stdout+stderr
	}{
		{nil, 2, "Usage:"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"auth"}, 2, `want "auth check"`},
		{[]string{"help"}, 0, "alertexport validate"},
		{[]string{"version"}, 0, "alertexport "},
		{[]string{"validate", "--nope"}, 2, "flag provided but not defined: -nope"},
		{[]string{"validate", "extra"}, 2, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, nil, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.out) {
				t.Errorf("exit %d, want %d; output:\n%s%s", r.code, tt.code, r.stdout, r.stderr)
			}
		})
	}
}

func TestValidateShippedConfig(t *testing.T) {
	t.Parallel()
	r := runCLI(t, map[string]string{"CONTOSO_CLIENT_SECRET": "x"}, "validate", "--config", "../../config.toml")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "# effective configuration of ../../config.toml") || !strings.Contains(r.stdout, `client_secret_env = "CONTOSO_CLIENT_SECRET"  # readable here (value not shown)`) {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	if !strings.HasSuffix(r.stderr, "../../config.toml is valid: 1 tenant, 2 jobs, 2 warnings\n") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

func TestValidateFindsConfigInEnvironment(t *testing.T) {
	t.Parallel()
	r := runCLI(t, map[string]string{"ALERTEXPORT_CONFIG": "/nonexistent/alertexport.toml"}, "validate")
	if r.code != 2 || !strings.Contains(r.stderr, "/nonexistent/alertexport.toml: no such file") {
		t.Errorf("exit %d:\n%s", r.code, r.stderr)
	}
}

// Every config of the corpus exits 2 and prints its message.
func TestValidateBadConfigs(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../config/testdata/bad/*.toml")
	if err != nil || len(files) < 30 {
		t.Fatalf("corpus: %d files, %v", len(files), err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			r := runCLI(t, map[string]string{"ACME_SECRET": "x"}, "validate", "--config", f)
			if r.code != 2 {
				t.Errorf("exit %d, want 2", r.code)
			}
			for _, line := range strings.Split(string(data), "\n") {
				want, ok := strings.CutPrefix(line, "# want: ")
				if !ok {
					break
				}
				want = strings.Replace(want, filepath.Base(f), f, 1)
				if !strings.Contains(r.stderr, want+"\n") {
					t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
				}
			}
			if !strings.HasSuffix(r.stderr, f+" is invalid\n") {
				t.Errorf("stderr does not end with the verdict:\n%s", r.stderr)
			}
		})
	}
}

func TestConsentURL(t *testing.T) {
	t.Parallel()
	const id = "0b1c2d3e-4f50-4a6b-8c7d-8e9f0a1b2c3d"
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--client-id", id}, 0, "https://login.microsoftonline.com/common/oauth2/authorize?prompt=consent&client_id=" + id + "&response_type=code&sso_reload=true\n"},
		{[]string{"--client-id", id, "--cloud", "gcc"}, 0, "https://login.microsoftonline.com/common/oauth2/authorize?prompt=consent&client_id=" + id + "&response_type=code&sso_reload=true\n"},
		{[]string{"--client-id", id, "--cloud", "gcc-high"}, 0, "https://login.microsoftonline.us/common/oauth2/authorize?prompt=consent&client_id=" + id + "&response_type=code&sso_reload=true\n"},
		{[]string{"--client-id", id, "--cloud", "dod"}, 0, "https://login.microsoftonline.us/common/oauth2/authorize?prompt=consent&client_id=" + id + "&response_type=code&sso_reload=true\n"},
		{[]string{"--client-id", id, "--tenant", "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"}, 0, "https://login.microsoftonline.com/6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b/oauth2/authorize?prompt=consent&client_id=" + id + "&response_type=code&sso_reload=true\n"},
		{[]string{"--client-id", id, "--tenant", "fabrikam.onmicrosoft.com"}, 0, "https://login.microsoftonline.com/fabrikam.onmicrosoft.com/oauth2/authorize?prompt=consent&client_id=" + id + "&response_type=code&sso_reload=true\n"},
		{[]string{"--client-id", id, "--tenant", "not a tenant"}, 2, `--tenant "not a tenant" is neither a tenant ID (GUID) nor a domain`},
		{nil, 2, "--client-id is required"},
		{[]string{"--client-id", "contoso-app"}, 2, `--client-id "contoso-app" is not a GUID`},
		{[]string{"--client-id", id, "--cloud", "china"}, 2, `--cloud "china" is not one of public, gcc, gcc-high, dod`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, nil, append([]string{"consent-url"}, tt.args...)...)
			got := r.stdout
			if tt.code != 0 {
				got = r.stderr
			}
			if r.code != tt.code || (tt.code == 0 && got != tt.want) || !strings.Contains(got, tt.want) {
				t.Errorf("exit %d, output %q; want %d, %q", r.code, got, tt.code, tt.want)
			}
			// The permissions the app needs, with the cloud's Graph host.
			graphHost := map[string]string{"gcc-high": "https://graph.microsoft.us", "dod": "https://dod-graph.microsoft.us"}
			for i, a := range tt.args {
				if a == "--cloud" && graphHost[tt.args[i+1]] != "" && !strings.Contains(r.stderr, graphHost[tt.args[i+1]]+" ") {
					t.Errorf("stderr does not name %s:\n%s", graphHost[tt.args[i+1]], r.stderr)
				}
			}
			if tt.code == 0 && !strings.Contains(r.stderr, "SecurityAlert.Read.All") {
				t.Errorf("stderr does not list the Graph permission:\n%s", r.stderr)
			}
		})
	}
}

const (
	tenantID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	clientID = "0b1c2d3e-4f50-4a6b-8c7d-8e9f0a1b2c3d"
)

// simConfig starts a simulator and writes a config whose tenant signs in there.
func simConfig(t *testing.T) (*sim.Server, string) {
	t.Helper()
	srv, err := sim.Start(sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	srv.AddTenant(tenantID)
	srv.RegisterApp(sim.App{ClientID: clientID, Secrets: []sim.Secret{{Value: "right"}}})
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := srv.WriteCAFile(ca); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.toml")
	contoso := sim.TenantTable{Name: "contoso", TenantID: tenantID, ClientID: clientID, SecretEnv: "CONTOSO_SECRET"}
	for _, a := range apis.All() {
		contoso.Sources = append(contoso.Sources, sim.SourceTable{Source: a.Name})
	}
	fabrikam := sim.TenantTable{Name: "fabrikam", TenantID: "1a2b3c4d-5e6f-4a0b-8c1d-2e3f4a5b6c7d", ClientID: clientID, SecretEnv: "FABRIKAM_SECRET"}
	doc := fmt.Sprintf("[worker]\nca_file = %q\n", ca) + contoso.TOML(srv.URL()) + fabrikam.TOML(srv.URL())
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, cfg
}

func TestAuthCheck(t *testing.T) {
	t.Parallel()
	const (
		mde = "https://api.securitycenter.microsoft.com"
		mda = "05a65629-4c1b-48c1-a78b-804c4abdd4af"
		mg  = "https://graph.microsoft.com"
	)
	claims := `  aud=%s tid=` + tenantID + ` appid=` + clientID + ` roles=%s exp=\S+ \(in 1h0m0s\)`
	missingGraph := `\n      the app has none of the roles graph needs \(SecurityAlert.Read.All or SecurityAlert.ReadWrite.All\); fix: in the Entra admin center open App registrations → ` + clientID + ` → API permissions → Add a permission → Microsoft APIs → "Microsoft Graph" → Application permissions → SecurityAlert.Read.All, then Grant admin consent for the tenant\n`
	missingIncidents := `\n      the app has none of the roles incidents needs \(SecurityIncident.Read.All or SecurityIncident.ReadWrite.All\); fix: in the Entra admin center open App registrations → ` + clientID + ` → API permissions → Add a permission → Microsoft APIs → "Microsoft Graph" → Application permissions → SecurityIncident.Read.All, then Grant admin consent for the tenant\n`
	missingRole := `\n      the app has none of the roles cloudapps needs \(Investigation.read or Investigation.manage or Discovery.read or Discovery.manage\); fix: in the Entra admin center open App registrations → ` + clientID + ` → API permissions → Add a permission → APIs my organization uses → "Microsoft Cloud App Security" → Application permissions → Investigation.read, then Grant admin consent for the tenant\n`
	tests := []struct {
		name   string
		grant  func(*sim.Server)
		secret string
		code   int
		want   string // regexp of the whole stdout
	}{
		{
			name: "a role is missing",
			grant: func(s *sim.Server) {
				s.Grant(tenantID, clientID, mde, "Alert.Read.All")
				s.Grant(tenantID, clientID, mda)
				s.Grant(tenantID, clientID, mg)
			},
			secret: "right", code: 1,
			want: `^OK    contoso/endpoint` + fmt.Sprintf(claims, mde, "Alert.Read.All") + "\n" +
				`FAIL  contoso/cloudapps` + fmt.Sprintf(claims, mda, `\(none\)`) + missingRole +
				`FAIL  contoso/graph` + fmt.Sprintf(claims, mg, `\(none\)`) + missingGraph +
				`FAIL  contoso/incidents` + fmt.Sprintf(claims, mg, `\(none\)`) + missingIncidents +
				`SKIP  fabrikam: no enabled source\n$`,
		},
		{
			name: "all roles granted",
			grant: func(s *sim.Server) {
				s.Grant(tenantID, clientID, mde, "Alert.ReadWrite.All")
				s.Grant(tenantID, clientID, mda, "Investigation.read")
				s.Grant(tenantID, clientID, mg, "SecurityAlert.Read.All", "SecurityIncident.Read.All")
			},
			secret: "right", code: 0,
			want: `^OK    contoso/endpoint` + fmt.Sprintf(claims, mde, "Alert.ReadWrite.All") + "\n" +
				`OK    contoso/cloudapps` + fmt.Sprintf(claims, mda, "Investigation.read") + "\n" +
				`OK    contoso/graph` + fmt.Sprintf(claims, mg, "SecurityAlert.Read.All,SecurityIncident.Read.All") + "\n" +
				`OK    contoso/incidents` + fmt.Sprintf(claims, mg, "SecurityAlert.Read.All,SecurityIncident.Read.All") + "\n" +
				`SKIP  fabrikam: no enabled source\n$`,
		},
		{
			name:   "wrong secret",
			grant:  func(s *sim.Server) { s.Grant(tenantID, clientID, mde, "Alert.Read.All") },
			secret: "wrong", code: 1,
			want: `(?s)^FAIL  contoso/endpoint\n      tenant "contoso": token for https://api.securitycenter.microsoft.com/.default: HTTP 401 invalid_client: AADSTS7000215: Invalid client secret provided\..*; fix: the client secret is wrong: copy the secret's Value \(not its Secret ID\)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, cfg := simConfig(t)
			tt.grant(srv)
			r := runCLI(t, map[string]string{"CONTOSO_SECRET": tt.secret}, "auth", "check", "--config", cfg)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstderr:\n%s", r.code, tt.code, r.stderr)
			}
			if !regexp.MustCompile(tt.want).MatchString(r.stdout) {
				t.Errorf("stdout:\n%s\ndoes not match:\n%s", r.stdout, tt.want)
			}
			if strings.Contains(r.stdout+r.stderr, tt.secret+`"`) || strings.Contains(r.stdout, "eyJ") {
				t.Errorf("output shows a secret or a token:\n%s%s", r.stdout, r.stderr)
			}
		})
	}
}

func TestAuthCheckOneTenant(t *testing.T) {
	t.Parallel()
	srv, cfg := simConfig(t)
	srv.Grant(tenantID, clientID, "https://api.securitycenter.microsoft.com", "Alert.Read.All")
	r := runCLI(t, nil, "auth", "check", "--config", cfg, "--tenant", "fabrikam")
	if r.code != 0 || r.stdout != "SKIP  fabrikam: no enabled source\n" {
		t.Errorf("exit %d stdout %q", r.code, r.stdout)
	}
	r = runCLI(t, nil, "auth", "check", "--config", cfg, "--tenant", "nope")
	if r.code != 2 || !strings.Contains(r.stderr, `no tenant named "nope"`) || !strings.Contains(r.stderr, "tenants: contoso, fabrikam") {
		t.Errorf("exit %d stderr %q", r.code, r.stderr)
	}
	r = runCLI(t, nil, "auth", "check", "--config", cfg, "--tenant", "contoso")
	if r.code != 1 || !strings.Contains(r.stdout, "environment variable CONTOSO_SECRET is not set") {
		t.Errorf("secret not set: exit %d stdout %q", r.code, r.stdout)
	}
}

// TestLockedWriter: writes from many goroutines at once reach a writer that is not safe for
// that one at a time, each whole (under -race, the race detector checks the first).
func TestLockedWriter(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := &lockedWriter{w: &buf}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for range 100 {
				fmt.Fprintf(w, "goroutine %d writes a whole line\n", g)
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 800 {
		t.Fatalf("%d lines, want 800", len(lines))
	}
	for _, l := range lines {
		if !regexp.MustCompile(`^goroutine \d writes a whole line$`).MatchString(l) {
			t.Fatalf("a line cut by another write: %q", l)
		}
	}
}
