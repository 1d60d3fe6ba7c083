package auth

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertexport/alertexport/config"
	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/sources/httpclient"
)

const (
	tenantID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	clientID = "0b1c2d3e-4f50-4a6b-8c7d-8e9f0a1b2c3d"
	secret   = "s3cr3t-Value~ABC"
	mdeScope = "https://api.securitycenter.microsoft.com/.default"
	mdaScope = "05a65629-4c1b-48c1-a78b-804c4abdd4af/.default"
	graph    = "https://graph.microsoft.com/.default"
)

// fixture is a simulator with one tenant and an app that may read Defender for Endpoint alerts.
type fixture struct {
	srv    *sim.Server
	dir    string
	caFile string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv, err := sim.Start(sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	srv.AddTenant(tenantID)
	srv.RegisterApp(sim.App{ClientID: clientID, Secrets: []sim.Secret{{Value: secret}}})
	srv.Grant(tenantID, clientID, "https://api.securitycenter.microsoft.com", "Alert.Read.All")
	dir := t.TempDir()
	ca := filepath.Join(dir, "sim-ca.pem")
	if err := srv.WriteCAFile(ca); err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, dir: dir, caFile: ca}
}

// tenant builds the tenant through the real config loader, pointed at the simulator.
func (f *fixture) tenant(t *testing.T, credential string) config.Tenant {
	t.Helper()
	doc := fmt.Sprintf(`
[[tenant]]
name = "contoso"
tenant_id = %q
client_id = %q
authority_host = %q
%s
[tenant.endpoint]
[tenant.cloudapps]
api_url = "https://contoso.us2.portal.cloudappsecurity.com"
`, tenantID, clientID, f.srv.URL(), credential)
	cfg, _, err := config.Parse("t.toml", []byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Tenants[0]
}

// httpClient is the product's client trusting the simulator. Its connections are closed before
// the simulator stops, which otherwise waits for HTTP/2 clients to hang up.
func (f *fixture) httpClient(t *testing.T) *http.Client {
	t.Helper()
	hc, err := httpclient.New(httpclient.Options{CAFile: f.caFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hc.CloseIdleConnections)
	return hc
}

var fastRetry = Retry{MaxTries: 4, Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond, MaxElapsed: 10 * time.Second, Attempt: 10 * time.Second}

func (f *fixture) provider(t *testing.T, tn config.Tenant, env config.LookupEnv, log *slog.Logger) *Provider {
	t.Helper()
	hc := f.httpClient(t)
	p, err := New(tn, Options{HTTPClient: hc, Env: env, Logger: log, Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func secretEnv(k string) (string, bool) {
	if k == "CONTOSO_SECRET" {
		return secret, true
	}
	return "", false
}

func (f *fixture) secretProvider(t *testing.T) *Provider {
	t.Helper()
	return f.secretProviderWith(t, func(*Options) {})
}

// secretProviderWith is secretProvider with options changed by edit.
func (f *fixture) secretProviderWith(t *testing.T, edit func(*Options)) *Provider {
	t.Helper()
	o := Options{HTTPClient: f.httpClient(t), Env: secretEnv, Retry: fastRetry}
	edit(&o)
	p, err := New(f.tenant(t, `client_secret_env = "CONTOSO_SECRET"`), o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTokenIsCachedAcrossCalls(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p := f.secretProvider(t)
	for range 100 {
		if _, err := p.Token(t.Context(), mdeScope); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.srv.TokenRequests(); got != 1 {
		t.Errorf("100 calls made %d token requests, want 1", got)
	}
}

func TestConcurrentColdCallsShareOneRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p := f.secretProvider(t)
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() {
			<-start
			_, err := p.Token(t.Context(), mdeScope)
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := f.srv.TokenRequests(); got != 1 {
		t.Errorf("10 concurrent cold calls made %d token requests, want 1", got)
	}
}

func TestOneTokenPerResource(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.srv.Grant(tenantID, clientID, "05a65629-4c1b-48c1-a78b-804c4abdd4af", "Investigation.read")
	p := f.secretProvider(t)
	for range 3 {
		for _, scope := range []string{mdeScope, mdaScope} {
			if _, err := p.Token(t.Context(), scope); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := f.srv.TokenRequests(); got != 2 {
		t.Errorf("token requests = %d, want 2 (one per resource)", got)
	}
}

func TestCertificateCredential(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pemData, cert, err := sim.NewCertificateCredential("alertexport", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(f.dir, "contoso.pem")
	if err := os.WriteFile(path, pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	// Subject name + issuer: the simulator refuses an assertion without the x5c chain.
	f.srv.RegisterApp(sim.App{ClientID: clientID, Certificates: []*x509.Certificate{cert}, RequireX5C: true})
	p := f.provider(t, f.tenant(t, fmt.Sprintf("certificate_file = %q", path)), nil, nil)
	tok, err := p.Token(t.Context(), mdeScope)
	if err != nil {
		t.Fatal(err)
	}
	c, err := DecodeClaims(tok)
	if err != nil || c.AppID != clientID {
		t.Fatalf("claims %+v, %v", c, err)
	}
	if got := f.srv.TokenLog()[0].Credential; got != "certificate" {
		t.Errorf("credential %q, want certificate", got)
	}
}

func TestFederatedTokenFileIsReadAtEveryRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	iss, err := f.srv.NewFederatedIssuer("https://oidc.example/cluster")
	if err != nil {
		t.Fatal(err)
	}
	const subject = "system:serviceaccount:soc:alertexport"
	f.srv.RegisterApp(sim.App{ClientID: clientID, Federated: []sim.FederatedCredential{{Issuer: "https://oidc.example/cluster", Subject: subject}}})
	f.srv.Grant(tenantID, clientID, "https://graph.microsoft.com", "SecurityAlert.Read.All")
	path := filepath.Join(f.dir, "azure-identity-token")
	write := func(sub string) {
		tok, err := iss.Sign(sub, "api://AzureADTokenExchange", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(subject)
	p := f.provider(t, f.tenant(t, fmt.Sprintf("federated_token_file = %q", path)), nil, nil)
	if _, err := p.Token(t.Context(), mdeScope); err != nil {
		t.Fatal(err)
	}
	// The platform rotates the file; the next request must send the new content. A token for
	// another subject proves it: Entra ID refuses it.
	write("system:serviceaccount:default:default")
	_, err = p.Token(t.Context(), graph)
	var e *Error
	if !errors.As(err, &e) || e.Code != 700213 {
		t.Fatalf("after rotation: %v, want AADSTS700213 (the new file was sent)", err)
	}
	if !strings.Contains(e.Fix, "Federated credentials") {
		t.Errorf("fix %q does not point at federated credentials", e.Fix)
	}
}

func TestEntraErrorsAreExplained(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		setup    func(*sim.Server)
		env      config.LookupEnv
		status   int
		code     int
		fix      string
		requests int
	}{
		{
			name: "wrong secret", env: func(string) (string, bool) { return "the-secret-ID-not-its-value", true },
			status: 401, code: 7000215, requests: 1,
			fix: `the client secret is wrong: copy the secret's Value (not its Secret ID) from App registrations → ` + clientID + ` → Certificates & secrets into client_secret_env "CONTOSO_SECRET"`,
		},
		{
			name: "expired secret", env: secretEnv, requests: 1,
			setup: func(s *sim.Server) {
				s.RegisterApp(sim.App{ClientID: clientID, Secrets: []sim.Secret{{Value: secret, Expires: time.Now().Add(-time.Minute)}}})
			},
			status: 401, code: 7000222,
			fix: `the client secret has expired: create a new one under App registrations → ` + clientID + ` → Certificates & secrets and put its Value into client_secret_env "CONTOSO_SECRET"`,
		},
		{
			name: "app not consented in the tenant", env: secretEnv, requests: 1,
			setup:  func(s *sim.Server) { s.Revoke(tenantID, clientID) },
			status: 400, code: 700016,
			fix: `there is no app ` + clientID + ` in tenant ` + tenantID + `: check client_id, tenant_id and cloud; a multi-tenant (partner) app must first be consented by an admin of that tenant (alertexport consent-url --client-id ` + clientID + ` --cloud public)`,
		},
		{
			name: "5xx is retried until the bound", env: secretEnv, requests: 4,
			setup:  func(s *sim.Server) { s.FailTokenRequests(10, sim.Fault{Status: 500}) },
			status: 500, code: 50000,
			fix: "Entra ID is unavailable or throttling; alertexport retried and will try again at the next poll",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			if tt.setup != nil {
				tt.setup(f.srv)
			}
			p := f.provider(t, f.tenant(t, `client_secret_env = "CONTOSO_SECRET"`), tt.env, nil)
			_, err := p.Token(t.Context(), mdeScope)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want *auth.Error", err)
			}
			if e.Status != tt.status || e.Code != tt.code || e.Fix != tt.fix {
				t.Errorf("got status %d code %d fix:\n  %s\nwant %d %d:\n  %s", e.Status, e.Code, e.Fix, tt.status, tt.code, tt.fix)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("AADSTS%d", tt.code)) || !strings.Contains(err.Error(), "correlation ID") {
				t.Errorf("message lacks the code or the correlation ID: %s", err)
			}
			if got := f.srv.TokenRequests(); got != tt.requests {
				t.Errorf("token requests = %d, want %d (credential errors are not retried)", got, tt.requests)
			}
		})
	}
}

func TestUnknownTenantIsExplained(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tn := f.tenant(t, `client_secret_env = "CONTOSO_SECRET"`)
	tn.TenantID = "9f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	_, err := f.provider(t, tn, secretEnv, nil).Token(t.Context(), mdeScope)
	var e *Error
	if !errors.As(err, &e) || e.Code != 90002 || e.Temporary {
		t.Fatalf("got %v, want a permanent AADSTS90002", err)
	}
	if want := "tenant 9f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b does not exist in the public cloud: check tenant_id and cloud"; e.Fix != want {
		t.Errorf("fix %q, want %q", e.Fix, want)
	}
}

func TestTransientFailuresAreRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault sim.Fault
	}{
		{"503", sim.Fault{Status: 503}},
		{"429 with Retry-After", sim.Fault{Status: 429, RetryAfter: time.Second}},
		{"connection dropped", sim.Fault{Drop: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			var events []Event
			var mu sync.Mutex
			p := f.secretProviderWith(t, func(o *Options) {
				o.Observe = func(e Event) { mu.Lock(); events = append(events, e); mu.Unlock() }
			})
			f.srv.FailTokenRequests(2, tt.fault)
			if _, err := p.Token(t.Context(), mdeScope); err != nil {
				t.Fatalf("not recovered: %v", err)
			}
			if got := f.srv.TokenRequests(); got != 3 {
				t.Errorf("token requests = %d, want 3", got)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(events) != 3 || events[0].Err == nil || events[2].Err != nil || events[2].FromCache {
				t.Errorf("events %+v, want two failures then a request", events)
			}
		})
	}
}

func TestHungEntraIsRetried(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p := f.secretProviderWith(t, func(o *Options) { o.Retry.Attempt = 200 * time.Millisecond })
	f.srv.FailTokenRequests(1, sim.Fault{Status: 503, Hang: time.Minute})
	if _, err := p.Token(t.Context(), mdeScope); err != nil {
		t.Fatalf("not recovered from a hung attempt: %v", err)
	}
	if got := f.srv.TokenRequests(); got != 2 {
		t.Errorf("token requests = %d, want 2", got)
	}
}

// TestGivingUpKeepsTheLastError: when the provider's context ends while Entra keeps answering
// 503, the error is the last 503, explained. The context gets 3 s, not less: on a loaded machine
// (the race detector, CI's two cores) the first answer once took longer than 300 ms, and with no
// answer yet there is no 503 to keep.
func TestGivingUpKeepsTheLastError(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	p := f.secretProviderWith(t, func(o *Options) { o.Retry.MaxTries, o.Retry.MaxElapsed, o.Context = 1000, time.Hour, ctx })
	f.srv.FailTokenRequests(100000, sim.Fault{Status: 503})
	_, err := p.Token(t.Context(), mdeScope)
	var e *Error
	if !errors.As(err, &e) || e.Status != 503 || !strings.Contains(err.Error(), `tenant "contoso"`) {
		t.Errorf("got %v, want the last 503 explained", err)
	}
}

func TestRotatedSecretFileIsPickedUp(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.srv.Grant(tenantID, clientID, "https://graph.microsoft.com", "SecurityAlert.Read.All")
	path := filepath.Join(f.dir, "secret")
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := f.provider(t, f.tenant(t, fmt.Sprintf("client_secret_file = %q", path)), nil, nil)
	if _, err := p.Token(t.Context(), mdeScope); err != nil {
		t.Fatal(err)
	}
	// The secret is rotated: Entra ID knows only the new one, and the file now holds it.
	f.srv.RegisterApp(sim.App{ClientID: clientID, Secrets: []sim.Secret{{Value: "rotated"}}})
	if err := os.WriteFile(path, []byte("rotated"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Token(t.Context(), graph); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	// Rejected again with the file unchanged: no loop, a clear error.
	f.srv.RegisterApp(sim.App{ClientID: clientID, Secrets: []sim.Secret{{Value: "rotated-again"}}})
	f.srv.Grant(tenantID, clientID, "05a65629-4c1b-48c1-a78b-804c4abdd4af", "Investigation.read")
	before := f.srv.TokenRequests()
	_, err := p.Token(t.Context(), mdaScope)
	var e *Error
	if !errors.As(err, &e) || e.Code != 7000215 || f.srv.TokenRequests()-before != 1 {
		t.Errorf("got %v after %d requests, want one AADSTS7000215", err, f.srv.TokenRequests()-before)
	}
}

func TestUntrustedCertificateIsNotRetried(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hc, err := httpclient.New(httpclient.Options{}) // without the simulator's CA
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hc.CloseIdleConnections)
	p := f.secretProviderWith(t, func(o *Options) { o.HTTPClient = hc })
	_, err = p.Token(t.Context(), mdeScope)
	var e *Error
	if !errors.As(err, &e) || e.Temporary || !strings.Contains(e.Fix, "[worker] ca_file") {
		t.Errorf("got %v, want a permanent TLS error pointing at ca_file", err)
	}
}

func TestCallerCancellationLeavesTheFlight(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p := f.secretProvider(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := p.Token(ctx, mdeScope); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v", err)
	}
	if _, err := p.Token(t.Context(), mdeScope); err != nil {
		t.Fatalf("the next caller failed: %v", err)
	}
}

func TestSecretsAndTokensAreNeverLogged(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := f.provider(t, f.tenant(t, `client_secret_env = "CONTOSO_SECRET"`), secretEnv, log)
	f.srv.FailTokenRequests(1, sim.Fault{Status: 503})
	tok, err := p.Token(t.Context(), mdeScope)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{secret, tok, strings.Split(tok, ".")[2]} {
		if strings.Contains(buf.String(), s) {
			t.Errorf("the log shows a secret or token:\n%s", buf.String())
		}
	}
	if !strings.Contains(buf.String(), "retrying") {
		t.Errorf("the retry was not logged:\n%s", buf.String())
	}
}

func TestMissingSecretIsAClearError(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hc := f.httpClient(t)
	_, err := New(f.tenant(t, `client_secret_env = "CONTOSO_SECRET"`), Options{HTTPClient: hc, Env: func(string) (string, bool) { return "", false }})
	want := `tenant "contoso": environment variable CONTOSO_SECRET is not set (it must hold the client secret's value)`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// BenchmarkTokenCached measures what every poll pays for its token once one is cached.
func BenchmarkTokenCached(b *testing.B) {
	srv, err := sim.Start(sim.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	srv.AddTenant(tenantID)
	srv.RegisterApp(sim.App{ClientID: clientID, Secrets: []sim.Secret{{Value: secret}}})
	srv.Grant(tenantID, clientID, "https://api.securitycenter.microsoft.com", "Alert.Read.All")
	ca := filepath.Join(b.TempDir(), "ca.pem")
	if err := srv.WriteCAFile(ca); err != nil {
		b.Fatal(err)
	}
	cfg, _, err := config.Parse("b.toml", []byte(fmt.Sprintf("[[tenant]]\nname = \"b\"\ntenant_id = %q\nclient_id = %q\nclient_secret_env = \"S\"\nauthority_host = %q\n[tenant.endpoint]\n", tenantID, clientID, srv.URL())), nil)
	if err != nil {
		b.Fatal(err)
	}
	hc, err := httpclient.New(httpclient.Options{CAFile: ca})
	if err != nil {
		b.Fatal(err)
	}
	defer hc.CloseIdleConnections()
	p, err := New(cfg.Tenants[0], Options{HTTPClient: hc, Env: func(string) (string, bool) { return secret, true }})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := p.Token(b.Context(), mdeScope); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Token(b.Context(), mdeScope); err != nil {
			b.Fatal(err)
		}
	}
	if n := srv.TokenRequests(); n != 1 {
		b.Fatalf("%d token requests, want 1", n)
	}
}

// TestInvalidate: a token an API refused is replaced by a new one, once, however many callers
// report it, and a report about an older token changes nothing.
func TestInvalidate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p := f.secretProvider(t)
	ctx := context.Background()
	first, err := p.Token(ctx, mdeScope)
	if err != nil {
		t.Fatal(err)
	}
	other, err := p.Token(ctx, mdaScope)
	if err != nil {
		t.Fatal(err)
	}
	p.Invalidate(mdeScope, "not-the-token")
	if tok, _ := p.Token(ctx, mdeScope); tok != first || f.srv.TokenRequests() != 2 {
		t.Fatalf("an unknown token's refusal renewed the cached one (%d requests)", f.srv.TokenRequests())
	}
	for range 3 {
		p.Invalidate(mdeScope, first)
	}
	second, err := p.Token(ctx, mdeScope)
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Error("the refused token came back")
	}
	if n := f.srv.TokenRequests(); n != 3 {
		t.Errorf("%d token requests, want 3: three reports of one token renew it once", n)
	}
	p.Invalidate(mdaScope, other) // stale: the cache it came from is gone
	if n := f.srv.TokenRequests(); n != 3 {
		t.Errorf("%d token requests after a stale report, want 3", n)
	}
}

// TestTokenRequestRedirectIsNotFollowed: a token endpoint that answers with a redirect gets a
// permanent error naming the target (without its query) and pointing at authority_host; the
// request — with the client secret in its body — never reaches the target, and is not retried.
func TestTokenRequestRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var mu sync.Mutex
	var asked, reached int
	f.srv.Handle("POST /"+tenantID+"/oauth2/v2.0/token", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked++
		mu.Unlock()
		// A 307 would re-send the body, client secret included.
		http.Redirect(w, r, "/captive/login?next=query-secret", http.StatusTemporaryRedirect)
	}))
	f.srv.Handle("/captive/login", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		mu.Lock()
		reached++
		mu.Unlock()
	}))
	p := f.secretProvider(t)
	_, err := p.Token(t.Context(), mdeScope)
	var e *Error
	var re *httpclient.RedirectError
	if !errors.As(err, &e) || !errors.As(err, &re) || e.Temporary || re.Status != http.StatusTemporaryRedirect {
		t.Fatalf("got %v, want a permanent *Error wrapping a 307 *RedirectError", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"HTTP 307 redirect to " + f.srv.URL() + "/captive/login, not followed",
		"fix: Entra ID answers token requests directly, so something else did: check authority_host (" + f.srv.URL() + ")",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "query-secret") || strings.Contains(msg, secret) {
		t.Errorf("message shows the query or the secret:\n%s", msg)
	}
	mu.Lock()
	defer mu.Unlock()
	if asked != 1 || reached != 0 {
		t.Errorf("token endpoint asked %d times (want 1, no retry), redirect target reached %d times (want 0)", asked, reached)
	}
}
