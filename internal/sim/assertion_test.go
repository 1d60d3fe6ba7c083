package sim

import (
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // x5t
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/sim/entra"
	"github.com/alertexport/alertexport/internal/sim/simapi"
	"github.com/golang-jwt/jwt/v5"
)

// certCredential is a certificate made by NewCertificateCredential, with its key.
type certCredential struct {
	cert *x509.Certificate
	key  *rsa.PrivateKey
}

func newCertCredential(t *testing.T, name string, validity time.Duration) certCredential {
	t.Helper()
	pemData, cert, err := NewCertificateCredential(name, validity)
	if err != nil {
		t.Fatal(err)
	}
	// The PEM is what MSAL's CertFromPEM reads: CERTIFICATE, then PKCS#8 PRIVATE KEY.
	certBlock, rest := pem.Decode(pemData)
	keyBlock, rest := pem.Decode(rest)
	if certBlock == nil || certBlock.Type != "CERTIFICATE" || keyBlock == nil || keyBlock.Type != "PRIVATE KEY" || len(rest) != 0 {
		t.Fatalf("PEM blocks are not CERTIFICATE then PRIVATE KEY")
	}
	if !cert.Equal(mustParseCert(t, certBlock.Bytes)) || cert.Subject.CommonName != name {
		t.Fatal("the returned certificate is not the PEM's")
	}
	key, err := x509.ParsePKCS8PrivateKey(keyBlock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok || rsaKey.N.BitLen() != 2048 {
		t.Fatalf("key is %T, want RSA-2048", key)
	}
	return certCredential{cert: cert, key: rsaKey}
}

func mustParseCert(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// assertion describes a client assertion; build signs it the way MSAL Go
// v1.10.1 does by default (PS256, x5t#S256 in standard base64).
type assertion struct {
	signer      *rsa.PrivateKey
	cert        *x509.Certificate // whose thumbprint goes in the header
	alg         jwt.SigningMethod
	thumbHeader string // "x5t#S256" or "x5t"
	encoding    *base64.Encoding
	iss, sub    string
	aud         string
	nbf, exp    time.Time
	noX5C       bool // leave out the chain, as MSAL does without WithX5C
}

func (a assertion) build(t *testing.T) string {
	t.Helper()
	var sum []byte
	if a.thumbHeader == "x5t" {
		s := sha1.Sum(a.cert.Raw) //nolint:gosec // x5t
		sum = s[:]
	} else {
		s := sha256.Sum256(a.cert.Raw)
		sum = s[:]
	}
	tok := jwt.NewWithClaims(a.alg, jwt.MapClaims{"aud": a.aud, "iss": a.iss, "sub": a.sub, "jti": simapi.NewGUID(), "nbf": a.nbf.Unix(), "exp": a.exp.Unix()})
	tok.Header = map[string]any{"alg": a.alg.Alg(), "typ": "JWT", a.thumbHeader: a.encoding.EncodeToString(sum), "x5c": []string{base64.StdEncoding.EncodeToString(a.cert.Raw)}}
	if a.noX5C {
		delete(tok.Header, "x5c")
	}
	signed, err := tok.SignedString(a.signer)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func assertionForm(clientID, assertion string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "scope": {mdeScope},
		"client_assertion_type": {entra.JWTBearer}, "client_assertion": {assertion}, "client_info": {"1"}}
}

func TestCertificateAssertion(t *testing.T) {
	f := newFixture(t, Options{})
	s := f.s
	s.AddTenantDomain(tenantA, "contoso.onmicrosoft.com")
	registered := newCertCredential(t, "alertexport", 24*time.Hour)
	stranger := newCertCredential(t, "not registered", 24*time.Hour)
	const noCerts = "33333333-4444-4555-8666-777777777777"
	s.RegisterApp(App{ClientID: appA, Secrets: []Secret{{Value: secretA}}, Certificates: []*x509.Certificate{registered.cert}})
	s.RegisterApp(App{ClientID: noCerts, Secrets: []Secret{{Value: "x"}}})
	s.Grant(tenantA, noCerts, mde)

	now := f.clock.Now()
	endpoint := s.URL() + "/" + tenantA + "/oauth2/v2.0/token"
	valid := assertion{signer: registered.key, cert: registered.cert, alg: jwt.SigningMethodPS256, thumbHeader: "x5t#S256",
		encoding: base64.StdEncoding, iss: appA, sub: appA, aud: endpoint, nbf: now, exp: now.Add(10 * time.Minute)}
	with := func(edit func(*assertion)) assertion { a := valid; edit(&a); return a }

	tests := []struct {
		name      string
		tenant    string
		clientID  string
		assertion assertion
		status    int
		oauth     string
		code      int
	}{
		{"as MSAL Go signs it", tenantA, appA, valid, 200, "", 0},
		{"x5t#S256 in base64url", tenantA, appA, with(func(a *assertion) { a.encoding = base64.RawURLEncoding }), 200, "", 0},
		{"legacy RS256 with x5t", tenantA, appA, with(func(a *assertion) {
			a.alg, a.thumbHeader, a.encoding = jwt.SigningMethodRS256, "x5t", base64.RawURLEncoding
		}), 200, "", 0},
		{"tenant named by domain, aud from metadata", "contoso.onmicrosoft.com", appA, valid, 200, "", 0},
		{"expired 4 minutes ago: within the skew", tenantA, appA, with(func(a *assertion) { a.nbf, a.exp = now.Add(-14*time.Minute), now.Add(-4*time.Minute) }), 200, "", 0},
		{"expired", tenantA, appA, with(func(a *assertion) { a.nbf, a.exp = now.Add(-16*time.Minute), now.Add(-6*time.Minute) }), 401, "invalid_client", 700024},
		{"not yet valid", tenantA, appA, with(func(a *assertion) { a.nbf, a.exp = now.Add(6*time.Minute), now.Add(16*time.Minute) }), 401, "invalid_client", 700024},
		{"audience of another tenant", tenantA, appA, with(func(a *assertion) { a.aud = s.URL() + "/" + tenantB + "/oauth2/v2.0/token" }), 401, "invalid_client", 700023},
		{"audience is the authority", tenantA, appA, with(func(a *assertion) { a.aud = s.URL() + "/" + tenantA }), 401, "invalid_client", 700023},
		{"certificate not registered", tenantA, appA, with(func(a *assertion) { a.signer, a.cert = stranger.key, stranger.cert }), 401, "invalid_client", 700027},
		{"signed with another key", tenantA, appA, with(func(a *assertion) { a.signer = stranger.key }), 401, "invalid_client", 700027},
		{"sub is not the client", tenantA, appA, with(func(a *assertion) { a.sub = noCerts }), 401, "invalid_client", 700021},
		{"app without certificates", tenantA, noCerts, with(func(a *assertion) { a.iss, a.sub = noCerts, noCerts }), 401, "invalid_client", 700026},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := postToken(t, s, tt.tenant, assertionForm(tt.clientID, tt.assertion.build(t)))
			if tt.status != http.StatusOK {
				checkRefusal(t, s, a, tt.status, tt.oauth, tt.code)
				return
			}
			if a.status != http.StatusOK {
				t.Fatalf("refused: %v", a)
			}
			c, err := s.VerifyAccessToken(a.body["access_token"].(string))
			if err != nil || c.AppIDACR != "2" || c.AppID != appA {
				t.Errorf("claims %+v, err %v; want appidacr 2", c, err)
			}
		})
	}

	t.Run("subject name + issuer needs x5c", func(t *testing.T) {
		const sni = "44444444-5555-4666-8777-888888888888"
		s.RegisterApp(App{ClientID: sni, Certificates: []*x509.Certificate{registered.cert}, RequireX5C: true})
		s.Grant(tenantA, sni, mde)
		chained := with(func(a *assertion) { a.iss, a.sub = sni, sni })
		if a := postToken(t, s, tenantA, assertionForm(sni, chained.build(t))); a.status != http.StatusOK {
			t.Errorf("with x5c: %v", a)
		}
		bare := with(func(a *assertion) { a.iss, a.sub, a.noX5C = sni, sni, true })
		checkRefusal(t, s, postToken(t, s, tenantA, assertionForm(sni, bare.build(t))), http.StatusUnauthorized, "invalid_client", 700027)
	})

	t.Run("unknown key names its thumbprint", func(t *testing.T) {
		a := postToken(t, s, tenantA, assertionForm(appA, with(func(a *assertion) { a.signer, a.cert = stranger.key, stranger.cert }).build(t)))
		sum := sha256.Sum256(stranger.cert.Raw)
		if desc := a.body["error_description"].(string); !strings.Contains(desc, "The key was not found.") || !strings.Contains(desc, entra.ThumbprintHex(sum[:])) {
			t.Errorf("description %q", desc)
		}
	})

	for _, tt := range []struct {
		name    string
		advance time.Duration
		reason  string
	}{
		{"registered certificate expired", 25 * time.Hour, "The key used is expired."},
		{"registered certificate not yet valid", -time.Hour, "The key used is not yet valid."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f.clock.Advance(tt.advance)
			defer f.clock.Advance(-tt.advance)
			then := f.clock.Now()
			a := postToken(t, s, tenantA, assertionForm(appA, with(func(a *assertion) { a.nbf, a.exp = then, then.Add(10*time.Minute) }).build(t)))
			checkRefusal(t, s, a, http.StatusUnauthorized, "invalid_client", 700027)
			if desc := a.body["error_description"].(string); !strings.Contains(desc, tt.reason) {
				t.Errorf("description %q", desc)
			}
		})
	}

	if got := s.TokenLog()[0]; got != (TokenRequest{TenantID: tenantA, ClientID: appA, Resource: mde, Credential: "certificate", Status: 200}) {
		t.Errorf("TokenLog[0] = %+v", got)
	}
}

func TestFederatedAssertion(t *testing.T) {
	f := newFixture(t, Options{})
	s := f.s
	const (
		cluster = "https://oidc.prod-aks.azure.com/00000000-0000-0000-0000-000000000000/"
		subject = "system:serviceaccount:soc:alertexport"
		custom  = "https://custom.example/aks"
	)
	iss, err := s.NewFederatedIssuer(cluster)
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.NewFederatedIssuer("https://token.actions.githubusercontent.com")
	if err != nil {
		t.Fatal(err)
	}
	s.RegisterApp(App{ClientID: appA, Federated: []FederatedCredential{
		{Issuer: cluster, Subject: subject},
		{Issuer: custom, Subject: subject, Audience: "api://custom"},
		{Issuer: "https://unserved.example", Subject: subject},
	}})
	// Tokens the simulator cannot have signed: same issuer, another key; an
	// issuer nobody made with NewFederatedIssuer.
	forger := iss.Forge(cluster, other)
	unserved := iss.Forge("https://unserved.example", iss)
	customIss, err := s.NewFederatedIssuer(custom)
	if err != nil {
		t.Fatal(err)
	}

	sign := func(fi *FederatedIssuer, sub, aud string) string {
		t.Helper()
		tok, err := fi.Sign(sub, aud, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tests := []struct {
		name      string
		assertion string
		status    int
		code      int
	}{
		{"matching credential", sign(iss, subject, ""), 200, 0},
		{"matching credential, custom audience", sign(customIss, subject, "api://custom"), 200, 0},
		{"other subject", sign(iss, "system:serviceaccount:default:default", ""), 401, 700213},
		{"subject differs in case", sign(iss, strings.ToUpper(subject), ""), 401, 700213},
		{"other audience", sign(iss, subject, "api://other"), 401, 700212},
		{"issuer not trusted by the app", sign(other, subject, ""), 401, 700211},
		{"signed with another key", sign(forger, subject, ""), 401, 50013},
		{"issuer without published keys", sign(unserved, subject, ""), 401, 50013},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := postToken(t, s, tenantA, assertionForm(appA, tt.assertion))
			if tt.status != http.StatusOK {
				checkRefusal(t, s, a, tt.status, "invalid_client", tt.code)
				return
			}
			if a.status != http.StatusOK {
				t.Fatalf("refused: %v", a)
			}
			if c, err := s.VerifyAccessToken(a.body["access_token"].(string)); err != nil || c.AppIDACR != "2" {
				t.Errorf("claims %+v, err %v; want appidacr 2", c, err)
			}
		})
	}

	t.Run("expired", func(t *testing.T) {
		tok := sign(iss, subject, "")
		f.clock.Advance(time.Hour + 6*time.Minute)
		defer f.clock.Advance(-time.Hour - 6*time.Minute)
		a := postToken(t, s, tenantA, assertionForm(appA, tok))
		checkRefusal(t, s, a, http.StatusUnauthorized, "invalid_client", 700024)
		if desc := a.body["error_description"].(string); !strings.Contains(desc, "Current time: ") || !strings.Contains(desc, "expiry time of assertion ") {
			t.Errorf("description %q", desc)
		}
	})

	t.Run("key rotated", func(t *testing.T) {
		old := sign(iss, subject, "")
		if _, err := s.NewFederatedIssuer(cluster); err != nil {
			t.Fatal(err)
		}
		checkRefusal(t, s, postToken(t, s, tenantA, assertionForm(appA, old)), http.StatusUnauthorized, "invalid_client", 50013)
	})

	t.Run("helpers refuse nonsense", func(t *testing.T) {
		if _, err := s.NewFederatedIssuer("http://plain.example"); err == nil {
			t.Error("NewFederatedIssuer accepted an http issuer")
		}
		if _, err := iss.Sign(subject, "", 0); err == nil {
			t.Error("Sign accepted a zero lifetime")
		}
		if _, _, err := NewCertificateCredential("x", 0); err == nil {
			t.Error("NewCertificateCredential accepted a zero validity")
		}
	})

	if got := s.TokenLog()[0]; got != (TokenRequest{TenantID: tenantA, ClientID: appA, Resource: mde, Credential: "federated", Status: 200}) {
		t.Errorf("TokenLog[0] = %+v", got)
	}
}
