package entra

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // x5t is a SHA-1 thumbprint by definition (RFC 7515 §4.1.7)
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/alertexport/alertexport/internal/sim/simapi"
)

// AccessTokenSkew is the clock skew Microsoft's token validation
// (Microsoft.IdentityModel, used by the Defender APIs) tolerates by default.
const AccessTokenSkew = 5 * time.Minute

// issuedAtBackdate: Entra dates iat and nbf of access tokens 5 minutes in the
// past to absorb clock skew, while exp is "now + expires_in".
const issuedAtBackdate = 5 * time.Minute

// signingKey is the simulator's token-signing key, with the self-signed
// certificate Entra publishes for each key in its JWKS (x5c).
type signingKey struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
	kid  string // base64url SHA-1 thumbprint of cert: Entra's kid and x5t
}

func newSigningKey() (*signingKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("simulator: signing key: %w", err)
	}
	cert, err := selfSigned(key, "accounts.accesscontrol.windows.net", 365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	sum := sha1.Sum(cert.Raw) //nolint:gosec // thumbprint, not a security boundary
	return &signingKey{key: key, cert: cert, kid: base64.RawURLEncoding.EncodeToString(sum[:])}, nil
}

// tokenGrant is everything an access token says.
type tokenGrant struct {
	tenantID, clientID, objectID, resource string
	appIDACR                               string // "1" secret, "2" certificate or federated assertion
	roles                                  []string
}

// issueAccessToken signs an app-only token shaped like the v1.0 tokens Entra
// issues for the Defender APIs and Graph (their accessTokenAcceptedVersion is
// 1): issuer sts.windows.net, aud = the resource as requested, appid, and a
// roles claim only when roles were granted.
func (s *Service) issueAccessToken(g tokenGrant) (string, error) {
	now := s.now()
	sts := "https://sts.windows.net/" + g.tenantID + "/"
	claims := jwt.MapClaims{
		"aud":      g.resource,
		"iss":      sts,
		"iat":      now.Add(-issuedAtBackdate).Unix(),
		"nbf":      now.Add(-issuedAtBackdate).Unix(),
		"exp":      now.Add(s.lifetime).Unix(),
		"appid":    g.clientID,
		"appidacr": g.appIDACR,
		"idp":      sts,
		"idtyp":    "app",
		"oid":      g.objectID,
		"rh":       "0.simulator." + randomURLID(12) + ".",
		"sub":      g.objectID,
		"tid":      g.tenantID,
		"uti":      randomURLID(16),
		"ver":      "1.0",
	}
	if len(g.roles) > 0 {
		claims["roles"] = g.roles
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["x5t"] = s.signer.kid
	t.Header["kid"] = s.signer.kid
	signed, err := t.SignedString(s.signer.key)
	if err != nil {
		return "", fmt.Errorf("simulator: sign access token: %w", err)
	}
	return signed, nil
}

// AccessClaims are the claims of an access token the simulator issued.
type AccessClaims struct {
	Audience, TenantID, AppID string
	Roles                     []string
	ExpiresAt                 time.Time
	ObjectID                  string // oid (= sub): the service principal
	AppIDACR                  string // "1" secret, "2" certificate or federated assertion
	TokenID                   string // uti: tells apart the tokens of one app, e.g. of two replicas
}

type accessTokenClaims struct {
	jwt.RegisteredClaims
	AppID    string   `json:"appid"`
	AppIDACR string   `json:"appidacr"`
	TID      string   `json:"tid"`
	OID      string   `json:"oid"`
	Roles    []string `json:"roles"`
	UTI      string   `json:"uti"`
}

// VerifyAccessToken checks that raw is an access token this simulator
// issued (RS256 with its signing key) and that it is within exp/nbf at the
// simulator's clock, with the 5-minute skew Microsoft's APIs allow, and
// returns its claims. The API parts of the simulator authenticate requests
// with it; they check aud and roles themselves.
func (s *Service) VerifyAccessToken(raw string) (*AccessClaims, error) {
	var c accessTokenClaims
	_, err := jwt.ParseWithClaims(raw, &c,
		func(t *jwt.Token) (any, error) {
			if kid, _ := t.Header["kid"].(string); kid != s.signer.kid {
				return nil, fmt.Errorf("unknown signing key %q", kid)
			}
			return &s.signer.key.PublicKey, nil
		},
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithTimeFunc(s.now),
		jwt.WithLeeway(AccessTokenSkew),
		jwt.WithExpirationRequired(),
	)
	if err != nil {
		return nil, fmt.Errorf("simulator: access token: %w", err)
	}
	if want := "https://sts.windows.net/" + c.TID + "/"; c.TID == "" || c.Issuer != want {
		return nil, fmt.Errorf("simulator: access token: issuer %q does not match tenant %q", c.Issuer, c.TID)
	}
	if len(c.Audience) != 1 {
		return nil, fmt.Errorf("simulator: access token: %d audiences, want 1", len(c.Audience))
	}
	return &AccessClaims{
		Audience:  c.Audience[0],
		TenantID:  c.TID,
		AppID:     c.AppID,
		Roles:     c.Roles,
		ExpiresAt: c.ExpiresAt.Time,
		ObjectID:  c.OID,
		AppIDACR:  c.AppIDACR,
		TokenID:   c.UTI,
	}, nil
}

// TokenRefusal is how both alert APIs refuse an access token that
// VerifyAccessToken did not accept: the 401's message and its
// WWW-Authenticate challenge.
func TokenRefusal(err error) (message, challenge string) {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "The access token has expired. Request a new token.",
			`Bearer error="invalid_token", error_description="The token is expired"`
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "The access token is not valid yet.",
			`Bearer error="invalid_token", error_description="The token is not valid yet"`
	}
	return "The access token is invalid: its signature or claims could not be validated.",
		`Bearer error="invalid_token", error_description="The signature is invalid"`
}

// FederatedIssuer is an external OIDC issuer (a Kubernetes cluster, GitHub
// Actions, ...) whose tokens the simulator trusts for federated credentials,
// as Entra trusts the keys the issuer publishes.
type FederatedIssuer struct {
	issuer string
	key    *rsa.PrivateKey
	kid    string
	now    func() time.Time
}

// NewFederatedIssuer creates a trusted issuer with a fresh RSA key. The
// issuer must be an https URL, as Entra requires of federated credentials.
// Calling it again for the same issuer rotates the key: tokens signed by the
// earlier FederatedIssuer then fail signature validation.
func (s *Service) NewFederatedIssuer(issuer string) (*FederatedIssuer, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("simulator: federated issuer %q: must be an https URL", issuer)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("simulator: federated issuer key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("simulator: federated issuer key: %w", err)
	}
	sum := sha256.Sum256(der)
	f := &FederatedIssuer{issuer: issuer, key: key, kid: base64.RawURLEncoding.EncodeToString(sum[:16]), now: s.now}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.issuers[issuer] = f
	return f, nil
}

// Forge returns an issuer that signs as issuer, under f's key ID, with the
// key of keyOf: tokens Entra must refuse (a wrong key for a known kid, or an
// issuer nobody made with NewFederatedIssuer), for tests of those refusals.
func (f *FederatedIssuer) Forge(issuer string, keyOf *FederatedIssuer) *FederatedIssuer {
	return &FederatedIssuer{issuer: issuer, key: keyOf.key, kid: f.kid, now: f.now}
}

// Issuer is the iss of the tokens f signs.
func (f *FederatedIssuer) Issuer() string { return f.issuer }

// Sign issues a token as the platform would write it to a federated token
// file: RS256 with a kid header, claims iss, sub, aud, iat, nbf and exp,
// dated by the simulator's clock. An empty audience means
// "api://AzureADTokenExchange". lifetime must be positive; to present an
// expired token, advance the simulator's clock past it.
func (f *FederatedIssuer) Sign(subject, audience string, lifetime time.Duration) (string, error) {
	if lifetime <= 0 {
		return "", fmt.Errorf("simulator: federated token lifetime %v: must be positive", lifetime)
	}
	if audience == "" {
		audience = DefaultFederatedAudience
	}
	now := f.now()
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": f.issuer,
		"sub": subject,
		"aud": audience,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(lifetime).Unix(),
	})
	t.Header["kid"] = f.kid
	signed, err := t.SignedString(f.key)
	if err != nil {
		return "", fmt.Errorf("simulator: sign federated token: %w", err)
	}
	return signed, nil
}

// NewCertificateCredential makes what an operator uploads to an app
// registration and gives to the client: an RSA-2048 key and a self-signed
// certificate valid until now+validity (and from 10 minutes ago, as
// PowerShell's New-SelfSignedCertificate backdates), as one PEM (the CERTIFICATE
// block, then the unencrypted PKCS#8 "PRIVATE KEY" block that MSAL's
// confidential.CertFromPEM reads) plus the parsed certificate, for
// App.Certificates.
func NewCertificateCredential(commonName string, validity time.Duration) (pemData []byte, cert *x509.Certificate, err error) {
	if validity <= 0 {
		return nil, nil, fmt.Errorf("simulator: certificate validity %v: must be positive", validity)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("simulator: certificate key: %w", err)
	}
	cert, err = selfSigned(key, commonName, validity)
	if err != nil {
		return nil, nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("simulator: certificate key: %w", err)
	}
	pemData = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})...)
	return pemData, cert, nil
}

func selfSigned(key *rsa.PrivateKey, commonName string, validity time.Duration) (*x509.Certificate, error) {
	serial, err := simapi.RandomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-10 * time.Minute),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("simulator: certificate %q: %w", commonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("simulator: certificate %q: %w", commonName, err)
	}
	return cert, nil
}

// jwk is one entry of a JWKS document, as Entra publishes its keys.
type jwk struct {
	Kty    string   `json:"kty"`
	Use    string   `json:"use"`
	Kid    string   `json:"kid"`
	X5t    string   `json:"x5t"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	X5c    []string `json:"x5c"`
	Issuer string   `json:"issuer,omitempty"`
}

func (k *signingKey) jwk(issuer string) jwk {
	pub := k.key.PublicKey
	return jwk{
		Kty:    "RSA",
		Use:    "sig",
		Kid:    k.kid,
		X5t:    k.kid,
		N:      base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E:      base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		X5c:    []string{base64.StdEncoding.EncodeToString(k.cert.Raw)},
		Issuer: issuer,
	}
}

// randomURLID returns n random bytes, base64url-encoded (uti-style ids).
func randomURLID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeThumbprint accepts the encodings clients use for x5t and x5t#S256:
// base64url as RFC 7515 says, or standard base64 as MSAL Go sends it, each
// with or without padding.
func decodeThumbprint(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("thumbprint is not base64")
}

// ThumbprintHex is how Entra prints a thumbprint in its messages.
func ThumbprintHex(b []byte) string { return strings.ToUpper(fmt.Sprintf("%x", b)) }
