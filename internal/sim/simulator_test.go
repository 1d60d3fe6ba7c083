package sim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/sim/entra"
	"github.com/alertexport/alertexport/internal/sim/simapi"
	"github.com/alertexport/alertexport/internal/testutil"
)

const (
	tenantA  = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	tenantB  = "7a2d3b4c-5e6f-4a70-9b8c-0d1e2f3a4b5c"
	appA     = "0b1c2d3e-4f50-4a6b-8c7d-8e9f0a1b2c3d"
	secretA  = "s3cret-Value~1"
	mde      = "https://api.securitycenter.microsoft.com"
	graphRes = "https://graph.microsoft.com"
	mdeScope = mde + "/.default openid offline_access profile" // as MSAL sends it
)

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a simulator with tenant A, where app A (secret secretA, plus an
// expired secret "old") may read Defender alerts and is installed for Graph
// without roles.
type fixture struct {
	s     *Server
	clock *clock
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	c := newClock()
	if opts.Now == nil {
		opts.Now = c.Now
	}
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	s.AddTenant(tenantA)
	s.RegisterApp(App{ClientID: appA, Secrets: []Secret{
		{Value: "old", Expires: c.Now().Add(-time.Hour)},
		{Value: secretA, Expires: c.Now().Add(90 * 24 * time.Hour)},
	}})
	s.Grant(tenantA, appA, mde, "Alert.Read.All")
	s.Grant(tenantA, appA, graphRes)
	return &fixture{s: s, clock: c}
}

// startServer starts a bare simulator (no tenants, apps or fake clock),
// closed when the test ends.
func startServer(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s, err := Start(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// answer is a decoded response of the simulator.
type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func (a answer) code() int {
	codes, _ := a.body["error_codes"].([]any)
	if len(codes) != 1 {
		return 0
	}
	n, _ := codes[0].(float64)
	return int(n)
}

func (a answer) String() string { return fmt.Sprintf("%d %v", a.status, a.body) }

func decode(t *testing.T, resp *http.Response) answer {
	t.Helper()
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	if err := json.NewDecoder(resp.Body).Decode(&a.body); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %v", resp.Request.Method, resp.Request.URL.Path, err)
	}
	return a
}

func postToken(t *testing.T, s *Server, tenant string, form url.Values) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL()+"/"+tenant+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	req.Header.Set("client-request-id", "5e4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatalf("POST token: %v", err)
	}
	return decode(t, resp)
}

func get(t *testing.T, s *Server, path string) answer {
	t.Helper()
	resp, err := s.Client().Get(s.URL() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return decode(t, resp)
}

func secretForm(clientID, secret, scope string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {scope}}
}

// checkRefusal asserts an Entra-shaped error answer.
func checkRefusal(t *testing.T, s *Server, a answer, status int, oauth string, code int) {
	t.Helper()
	if a.status != status || a.body["error"] != oauth || a.code() != code {
		t.Fatalf("got %d %v AADSTS%d, want %d %s AADSTS%d\n%v", a.status, a.body["error"], a.code(), status, oauth, code, a.body["error_description"])
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	desc, _ := a.body["error_description"].(string)
	trace, _ := a.body["trace_id"].(string)
	corr, _ := a.body["correlation_id"].(string)
	ts, _ := a.body["timestamp"].(string)
	if _, err := time.Parse(entra.TimestampLayout, ts); err != nil {
		t.Errorf("timestamp %q: %v", ts, err)
	}
	wantSuffix := fmt.Sprintf("\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", trace, corr, ts)
	if !strings.HasPrefix(desc, fmt.Sprintf("AADSTS%d: ", code)) || !strings.HasSuffix(desc, wantSuffix) || len(trace) != 36 {
		t.Errorf("error_description not Entra-shaped: %q", desc)
	}
	if uri := fmt.Sprintf("%s/error?code=%d", s.URL(), code); a.body["error_uri"] != uri {
		t.Errorf("error_uri %v, want %s", a.body["error_uri"], uri)
	}
}

func TestServerTLS(t *testing.T) {
	f := newFixture(t, Options{})
	s := f.s
	u, err := url.Parse(s.URL())
	if err != nil || u.Scheme != "https" || u.Hostname() != "127.0.0.1" || u.Port() == "" || u.Path != "" {
		t.Fatalf("URL() = %q", s.URL())
	}
	metadata := s.URL() + "/" + tenantA + "/v2.0/.well-known/openid-configuration"

	t.Run("a default client does not trust it", func(t *testing.T) {
		_, err := (&http.Client{Transport: &http.Transport{}}).Get(metadata)
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Fatalf("err = %v, want x509.UnknownAuthorityError", err)
		}
	})

	t.Run("Client trusts it, over HTTP/2", func(t *testing.T) {
		resp, err := s.Client().Get(metadata)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
			t.Errorf("status %d over %s", resp.StatusCode, resp.Proto)
		}
		leaf := resp.TLS.PeerCertificates[0]
		for _, host := range []string{"127.0.0.1", "::1", "localhost"} {
			if err := leaf.VerifyHostname(host); err != nil {
				t.Errorf("leaf certificate: %v", err)
			}
		}
	})

	t.Run("CACertPEM and CertPool make a trusting client", func(t *testing.T) {
		block, _ := pem.Decode(s.CACertPEM())
		if block == nil || block.Type != "CERTIFICATE" {
			t.Fatal("CACertPEM is not a PEM certificate")
		}
		ca, err := x509.ParseCertificate(block.Bytes)
		if err != nil || !ca.IsCA {
			t.Fatalf("CA certificate: %v (IsCA %v)", err, ca != nil && ca.IsCA)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(s.CACertPEM())
		for name, p := range map[string]*x509.CertPool{"CACertPEM": pool, "CertPool": s.CertPool()} {
			c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p}}}
			resp, err := c.Get(metadata)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			resp.Body.Close()
			c.CloseIdleConnections()
		}
	})
}

func TestClose(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.AddTenant(tenantA)
	if a := get(t, s, "/"+tenantA+"/v2.0/.well-known/openid-configuration"); a.status != http.StatusOK {
		t.Fatalf("metadata: %v", a)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown after Close: %v", err)
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(s.URL(), "https://"), time.Second); err == nil {
		t.Error("still listening after Close")
	}
}

func TestRouting(t *testing.T) {
	f := newFixture(t, Options{})
	s := f.s
	s.Handle("GET /api/handle-test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		simapi.WriteJSON(w, http.StatusOK, map[string]any{"value": []any{}})
	}))
	tests := []struct {
		name, method, path string
		status             int
		allow              string
	}{
		{"route added with Handle", http.MethodGet, "/api/handle-test", http.StatusOK, ""},
		{"Handle route, wrong method", http.MethodPost, "/api/handle-test", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"GET on the token endpoint", http.MethodGet, "/" + tenantA + "/oauth2/v2.0/token", http.StatusMethodNotAllowed, "POST"},
		{"POST on the metadata", http.MethodPost, "/" + tenantA + "/v2.0/.well-known/openid-configuration", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"authority with /v2.0 appended", http.MethodGet, "/" + tenantA + "/v2.0/v2.0/.well-known/openid-configuration", http.StatusNotFound, ""},
		{"v1 metadata", http.MethodGet, "/" + tenantA + "/.well-known/openid-configuration", http.StatusNotFound, ""},
		{"token endpoint with trailing slash", http.MethodPost, "/" + tenantA + "/oauth2/v2.0/token/", http.StatusNotFound, ""},
		{"root", http.MethodGet, "/", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, s.URL()+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			a := decode(t, resp)
			if a.status != tt.status || a.header.Get("Allow") != tt.allow {
				t.Fatalf("got %d Allow %q, want %d Allow %q: %v", a.status, a.header.Get("Allow"), tt.status, tt.allow, a)
			}
			if tt.status >= 400 {
				if a.body["error"] != "invalid_request" || a.code() == 0 {
					t.Errorf("not an Entra-shaped error: %v", a)
				}
			}
		})
	}
	if n := s.TokenRequests(); n != 0 {
		t.Errorf("TokenRequests = %d after no POST reached the token endpoint", n)
	}
}

func TestMetadata(t *testing.T) {
	f := newFixture(t, Options{})
	s := f.s
	s.AddTenantDomain(tenantA, "Contoso.onmicrosoft.com")
	base := s.URL() + "/" + tenantA
	tests := []struct {
		name, tenant string
		issuer       string
		endpointBase string
	}{
		{"tenant ID", tenantA, base + "/v2.0", base},
		{"tenant ID in upper case", strings.ToUpper(tenantA), base + "/v2.0", base},
		{"verified domain", "contoso.onmicrosoft.com", base + "/v2.0", base},
		{"common", "common", s.URL() + "/{tenantid}/v2.0", s.URL() + "/common"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// MSAL appends "?" with an empty query.
			a := get(t, s, "/"+tt.tenant+"/v2.0/.well-known/openid-configuration?")
			if a.status != http.StatusOK {
				t.Fatalf("status %v", a)
			}
			want := map[string]string{
				"issuer":                 tt.issuer,
				"authorization_endpoint": tt.endpointBase + "/oauth2/v2.0/authorize",
				"token_endpoint":         tt.endpointBase + "/oauth2/v2.0/token",
				"jwks_uri":               tt.endpointBase + "/discovery/v2.0/keys",
			}
			for k, v := range want {
				if a.body[k] != v {
					t.Errorf("%s = %v, want %s", k, a.body[k], v)
				}
			}
			// MSAL checks that the issuer is on the authority's scheme and host.
			iss, err := url.Parse(strings.Replace(a.body["issuer"].(string), "{tenantid}", "x", 1))
			if err != nil || iss.Scheme+"://"+iss.Host != s.URL() {
				t.Errorf("issuer %v is not on %s", a.body["issuer"], s.URL())
			}
		})
	}

	for _, unknown := range []string{"9f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b", "fabrikam.onmicrosoft.com", "nonsense"} {
		t.Run("unknown tenant "+unknown, func(t *testing.T) {
			a := get(t, s, "/"+unknown+"/v2.0/.well-known/openid-configuration?")
			checkRefusal(t, s, a, http.StatusBadRequest, "invalid_tenant", 90002)
			if desc := a.body["error_description"].(string); !strings.Contains(desc, "Tenant '"+unknown+"' not found.") {
				t.Errorf("description %q", desc)
			}
		})
	}

	t.Run("JWKS holds the token signing key", func(t *testing.T) {
		a := get(t, s, "/"+tenantA+"/discovery/v2.0/keys")
		keys, _ := a.body["keys"].([]any)
		if a.status != http.StatusOK || len(keys) != 1 {
			t.Fatalf("JWKS %v", a)
		}
		k := keys[0].(map[string]any)
		if k["kty"] != "RSA" || k["use"] != "sig" || k["kid"] != s.KeyID() || k["x5t"] != s.KeyID() {
			t.Errorf("key %v", k)
		}
	})

	if got, want := s.MetadataRequests(), len(tests)+3; got != want {
		t.Errorf("MetadataRequests = %d, want %d", got, want)
	}
}

func TestLogsHoldNoSecrets(t *testing.T) {
	var buf testutil.SyncBuffer
	f := newFixture(t, Options{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	ok := postToken(t, f.s, tenantA, secretForm(appA, secretA, mdeScope))
	postToken(t, f.s, tenantA, secretForm(appA, "wrong-"+secretA, mdeScope))
	iss, err := f.s.NewFederatedIssuer("https://issuer.example")
	if err != nil {
		t.Fatal(err)
	}
	assertion, err := iss.Sign("system:serviceaccount:soc:alertexport", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	postToken(t, f.s, tenantA, url.Values{"grant_type": {"client_credentials"}, "client_id": {appA}, "scope": {mdeScope},
		"client_assertion_type": {entra.JWTBearer}, "client_assertion": {assertion}})

	logs := buf.String()
	if !strings.Contains(logs, "token request") {
		t.Fatalf("nothing logged: %q", logs)
	}
	token, _ := ok.body["access_token"].(string)
	for name, secret := range map[string]string{"secret": secretA, "assertion": assertion, "assertion signature": assertion[strings.LastIndex(assertion, ".")+1:], "access token": token} {
		if secret == "" || strings.Contains(logs, secret) {
			t.Errorf("the %s is in the logs (or empty)", name)
		}
	}
}

// b64 is base64url without padding, for hand-made JWT parts.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// unlimited lifts the rate limits of apis that opts does not choose, so
// tests can send many requests.
func unlimited(opts *Options, apis ...string) {
	if opts.RateLimits == nil {
		opts.RateLimits = map[string]RateLimits{}
	}
	for _, api := range apis {
		if _, ok := opts.RateLimits[api]; !ok {
			opts.RateLimits[api] = NoRateLimits()
		}
	}
}
