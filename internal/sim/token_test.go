package sim

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/sim/entra"
	"github.com/golang-jwt/jwt/v5"
)

func TestTokenRefusals(t *testing.T) {
	f := newFixture(t, Options{})
	s := f.s
	const (
		disabled  = "d15ab1ed-0000-4000-8000-000000000000"
		elsewhere = "11111111-2222-4333-8444-555555555555" // registered, installed in tenant B only
		revoked   = "22222222-3333-4444-8555-666666666666"
	)
	s.RegisterApp(App{ClientID: disabled, Secrets: []Secret{{Value: "x"}}, Disabled: true})
	s.Grant(tenantA, disabled, mde, "Alert.Read.All")
	s.RegisterApp(App{ClientID: elsewhere, Secrets: []Secret{{Value: "x"}}})
	s.Grant(tenantB, elsewhere, mde, "Alert.Read.All")
	s.RegisterApp(App{ClientID: revoked, Secrets: []Secret{{Value: "x"}}})
	s.Grant(tenantA, revoked, mde, "Alert.Read.All")
	s.Revoke(tenantA, revoked)

	form := func(edit func(url.Values)) url.Values {
		v := secretForm(appA, secretA, mdeScope)
		edit(v)
		return v
	}
	set := func(kv ...string) func(url.Values) {
		return func(v url.Values) {
			for i := 0; i < len(kv); i += 2 {
				if kv[i+1] == "" {
					v.Del(kv[i])
				} else {
					v.Set(kv[i], kv[i+1])
				}
			}
		}
	}
	tests := []struct {
		name   string
		tenant string
		form   url.Values
		status int
		oauth  string
		code   int
	}{
		{"unknown tenant ID", "9f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b", form(set()), 400, "invalid_request", 90002},
		{"unknown tenant domain", "fabrikam.onmicrosoft.com", form(set()), 400, "invalid_request", 90002},
		{"multi-tenant authority", "organizations", form(set()), 400, "invalid_request", 50059},
		{"no grant_type", tenantA, form(set("grant_type", "")), 400, "invalid_request", 900144},
		{"other grant_type", tenantA, form(set("grant_type", "password")), 400, "unsupported_grant_type", 70003},
		{"no client_id", tenantA, form(set("client_id", "")), 400, "invalid_request", 900144},
		{"no scope", tenantA, form(set("scope", "")), 400, "invalid_request", 900144},
		{"scope without /.default", tenantA, form(set("scope", mde+" openid offline_access profile")), 400, "invalid_scope", 1002012},
		{"delegated-style scope", tenantA, form(set("scope", mde+"/Alert.Read.All openid offline_access profile")), 400, "invalid_scope", 1002012},
		{"only the OIDC scopes", tenantA, form(set("scope", "openid offline_access profile")), 400, "invalid_scope", 1002012},
		{"two resources", tenantA, form(set("scope", mde+"/.default "+graphRes+"/.default openid offline_access profile")), 400, "invalid_scope", 28000},
		{"app not registered", tenantA, form(set("client_id", "99999999-2222-4333-8444-555555555555")), 400, "unauthorized_client", 700016},
		{"app not installed in this tenant", tenantA, form(set("client_id", elsewhere, "client_secret", "x")), 400, "unauthorized_client", 700016},
		{"service principal revoked", tenantA, form(set("client_id", revoked, "client_secret", "x")), 400, "unauthorized_client", 700016},
		{"app disabled", tenantA, form(set("client_id", disabled, "client_secret", "x")), 400, "unauthorized_client", 7000112},
		{"no credential", tenantA, form(set("client_secret", "")), 401, "invalid_client", 7000218},
		{"assertion type without assertion", tenantA, form(set("client_secret", "", "client_assertion_type", entra.JWTBearer)), 401, "invalid_client", 7000218},
		{"wrong secret", tenantA, form(set("client_secret", secretA+"x")), 401, "invalid_client", 7000215},
		{"secret ID instead of value", tenantA, form(set("client_secret", "3f2504e0-4f89-41d3-9a0c-0305e82c3301")), 401, "invalid_client", 7000215},
		{"expired secret", tenantA, form(set("client_secret", "old")), 401, "invalid_client", 7000222},
		{"secret and assertion", tenantA, form(set("client_assertion_type", entra.JWTBearer, "client_assertion", "a.b.c")), 400, "invalid_request", 90023},
		{"assertion without type", tenantA, form(set("client_secret", "", "client_assertion", "a.b.c")), 400, "invalid_request", 900144},
		{"assertion of another type", tenantA, form(set("client_secret", "", "client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer", "client_assertion", "a.b.c")), 400, "invalid_request", 90023},
		{"malformed assertion", tenantA, form(set("client_secret", "", "client_assertion_type", entra.JWTBearer, "client_assertion", "not-a-jwt")), 400, "invalid_request", 50027},
		{"assertion without iss", tenantA, form(set("client_secret", "", "client_assertion_type", entra.JWTBearer, "client_assertion", b64(`{"alg":"PS256"}`)+"."+b64(`{"sub":"x"}`)+".c2ln")), 400, "invalid_request", 50027},
		{"unknown resource", tenantA, form(set("scope", "https://api.example.com/.default openid offline_access profile")), 400, "invalid_resource", 500011},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := postToken(t, s, tt.tenant, tt.form)
			checkRefusal(t, s, a, tt.status, tt.oauth, tt.code)
			if a.body["correlation_id"] != "5e4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a" {
				t.Errorf("correlation_id %v does not echo client-request-id", a.body["correlation_id"])
			}
		})
	}
	if got := s.TokenRequests(); got != len(tests) {
		t.Errorf("TokenRequests = %d, want %d", got, len(tests))
	}
}

// tokenPayload decodes an access token's claims without verifying it.
func tokenPayload(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("access token has %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func TestSecretToken(t *testing.T) {
	f := newFixture(t, Options{})
	s := f.s
	s.AddTenantDomain(tenantA, "contoso.onmicrosoft.com")
	tests := []struct {
		name, tenant, scope string
		aud                 string
		roles               []string
	}{
		{"Defender for Endpoint", tenantA, mdeScope, mde, []string{"Alert.Read.All"}},
		{"same service principal, other URI", tenantA, "https://securitycenter.onmicrosoft.com/windowsatpservice/.default openid offline_access profile", "https://securitycenter.onmicrosoft.com/windowsatpservice", []string{"Alert.Read.All"}},
		{"tenant named by its domain", "contoso.onmicrosoft.com", mdeScope, mde, []string{"Alert.Read.All"}},
		{"installed without roles: no roles claim", tenantA, graphRes + "/.default openid offline_access profile", graphRes, nil},
		{"not granted on this resource: no roles claim", tenantA, "05a65629-4c1b-48c1-a78b-804c4abdd4af/.default openid offline_access profile", "05a65629-4c1b-48c1-a78b-804c4abdd4af", nil},
		{"scope without the OIDC scopes", tenantA, mde + "/.default", mde, []string{"Alert.Read.All"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := postToken(t, s, tt.tenant, secretForm(appA, secretA, tt.scope))
			if a.status != http.StatusOK {
				t.Fatalf("status %v", a)
			}
			if ct := a.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			raw, _ := a.body["access_token"].(string)
			wantBody := map[string]any{"token_type": "Bearer", "expires_in": float64(3599), "ext_expires_in": float64(3599), "access_token": raw}
			if !reflect.DeepEqual(a.body, wantBody) {
				t.Errorf("answer %v, want exactly token_type, expires_in, ext_expires_in and access_token (no scope)", a.body)
			}
			c, err := s.VerifyAccessToken(raw)
			if err != nil {
				t.Fatalf("VerifyAccessToken: %v", err)
			}
			want := &AccessClaims{Audience: tt.aud, TenantID: tenantA, AppID: appA, Roles: tt.roles,
				ExpiresAt: f.clock.Now().Add(3599 * time.Second), ObjectID: ServicePrincipalID(tenantA, appA), AppIDACR: "1"}
			if !c.ExpiresAt.Equal(want.ExpiresAt) {
				t.Errorf("ExpiresAt %v, want %v", c.ExpiresAt, want.ExpiresAt)
			}
			c.ExpiresAt = want.ExpiresAt
			if c.TokenID == "" || c.TokenID != tokenPayload(t, raw)["uti"] {
				t.Errorf("TokenID %q is not the token's uti", c.TokenID)
			}
			want.TokenID = c.TokenID
			if !reflect.DeepEqual(c, want) {
				t.Errorf("claims %+v\nwant   %+v", c, want)
			}
			p := tokenPayload(t, raw)
			sts := "https://sts.windows.net/" + tenantA + "/"
			for k, v := range map[string]any{"iss": sts, "idp": sts, "ver": "1.0", "idtyp": "app", "sub": want.ObjectID, "tid": tenantA} {
				if p[k] != v {
					t.Errorf("claim %s = %v, want %v", k, p[k], v)
				}
			}
			if _, has := p["roles"]; has != (tt.roles != nil) {
				t.Errorf("roles claim present = %v, want %v", has, tt.roles != nil)
			}
			if _, has := p["scp"]; has {
				t.Error("an app token carries scp")
			}
		})
	}
	log := s.TokenLog()
	if len(log) != len(tests) || log[0] != (TokenRequest{TenantID: tenantA, ClientID: appA, Resource: mde, Credential: "secret", Status: 200}) {
		t.Errorf("TokenLog %+v", log)
	}
}

func TestTokenLifetime(t *testing.T) {
	f := newFixture(t, Options{TokenLifetime: 4 * time.Minute})
	a := postToken(t, f.s, tenantA, secretForm(appA, secretA, mdeScope))
	if a.body["expires_in"] != float64(240) || a.body["ext_expires_in"] != float64(240) {
		t.Errorf("answer %v, want expires_in 240", a.body)
	}
	if _, err := Start(Options{TokenLifetime: time.Millisecond}); err == nil {
		t.Error("Start accepted a sub-second token lifetime")
	}
}

func TestVerifyAccessToken(t *testing.T) {
	f := newFixture(t, Options{})
	s := f.s
	a := postToken(t, s, tenantA, secretForm(appA, secretA, mdeScope))
	raw, _ := a.body["access_token"].(string)

	forged := func(edit func(jwt.MapClaims, map[string]any)) string {
		t.Helper()
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		claims := jwt.MapClaims(tokenPayload(t, raw))
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
		tok.Header["kid"] = s.KeyID()
		edit(claims, tok.Header)
		signed, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return signed
	}
	tests := []struct {
		name    string
		token   string
		advance time.Duration
		ok      bool
	}{
		{"fresh", raw, 0, true},
		{"expired but within the 5-minute skew", raw, 3599*time.Second + 4*time.Minute, true},
		{"expired", raw, 3599*time.Second + 6*time.Minute, false},
		{"signed by another key", forged(func(jwt.MapClaims, map[string]any) {}), 0, false},
		{"unsigned", b64(`{"alg":"none","typ":"JWT"}`) + "." + strings.Split(raw, ".")[1] + ".", 0, false},
		{"garbage", "not a token", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.clock.Advance(tt.advance)
			defer f.clock.Advance(-tt.advance)
			_, err := s.VerifyAccessToken(tt.token)
			if (err == nil) != tt.ok {
				t.Errorf("VerifyAccessToken error = %v, want ok = %v", err, tt.ok)
			}
		})
	}
}
