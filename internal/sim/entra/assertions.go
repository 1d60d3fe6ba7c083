package entra

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // x5t is a SHA-1 thumbprint by definition
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// assertionSkew is the clock skew Entra tolerates on client assertions'
// exp and nbf, both ways.
const assertionSkew = 5 * time.Minute

// assertionTimeLayout is how Entra prints times in AADSTS700024.
const assertionTimeLayout = "2006-01-02T15:04:05.0000000Z"

// certAssertionAlgs are the signatures Entra accepts on certificate
// assertions: PS256 (what MSAL Go signs since v1.4) and RS256 (older MSALs).
var certAssertionAlgs = []string{jwt.SigningMethodPS256.Alg(), jwt.SigningMethodRS256.Alg()}

// checkAssertion authenticates a client assertion. One whose iss is the
// client ID is a certificate assertion (private_key_jwt); any other iss is a
// token of an external issuer presented under a federated credential.
func (s *Service) checkAssertion(raw string, g grantSnapshot, audiences []string, rec *TokenRequest) error {
	claims := jwt.MapClaims{}
	token, _, err := jwt.NewParser().ParseUnverified(raw, claims)
	if errors.Is(err, jwt.ErrTokenMalformed) || token == nil {
		return errMalformedJWT()
	}
	// Other parse errors (an unknown or missing alg) surface as signature
	// failures below, as they would at Entra.
	iss, errIss := claims.GetIssuer()
	sub, errSub := claims.GetSubject()
	aud, errAud := claims.GetAudience()
	if errIss != nil || errSub != nil || errAud != nil || iss == "" {
		return errMalformedJWT()
	}
	if strings.EqualFold(iss, g.app.ClientID) {
		rec.Credential = "certificate"
		return s.checkCertificateAssertion(raw, token, claims, g.app, sub, aud, audiences)
	}
	rec.Credential = "federated"
	return s.checkFederatedAssertion(raw, claims, g, iss, sub, aud)
}

// checkCertificateAssertion verifies a private_key_jwt assertion: sub is the
// client, the key is a registered certificate (by x5t#S256 or x5t), the
// signature is good, aud is this tenant's token endpoint and the time is
// right.
func (s *Service) checkCertificateAssertion(raw string, token *jwt.Token, claims jwt.MapClaims, app App, sub string, aud jwt.ClaimStrings, audiences []string) error {
	if !strings.EqualFold(sub, app.ClientID) {
		return errAssertionClientMismatch()
	}
	if len(app.Certificates) == 0 {
		return errNoKeys()
	}
	thumb, cert := findCertificate(token.Header, app.Certificates)
	if cert == nil {
		return errBadCertSignature("The key was not found.", thumb, app.ClientID)
	}
	// Entra uses a key credential only within its start and end dates.
	switch now := s.now(); {
	case now.After(cert.NotAfter):
		return errBadCertSignature("The key used is expired.", thumb, app.ClientID)
	case now.Before(cert.NotBefore):
		// choice: Entra's wording for a key whose start date is ahead is not known.
		return errBadCertSignature("The key used is not yet valid.", thumb, app.ClientID)
	}
	if app.RequireX5C && !x5cStartsWith(token.Header, cert) {
		// choice: Entra's wording for a missing chain under SN+I is not documented.
		return errBadCertSignature("The x5c header is missing or its first certificate is not the signing certificate; subject name + issuer authentication needs the chain.", thumb, app.ClientID)
	}
	_, err := jwt.NewParser(jwt.WithValidMethods(certAssertionAlgs), jwt.WithoutClaimsValidation()).
		Parse(raw, func(*jwt.Token) (any, error) { return cert.PublicKey, nil })
	if err != nil {
		return errBadCertSignature("The provided signature value did not match the expected signature value.", thumb, app.ClientID)
	}
	if !slices.ContainsFunc(aud, func(a string) bool {
		return slices.ContainsFunc(audiences, func(want string) bool { return strings.EqualFold(a, want) })
	}) {
		return errAssertionAudience(audiences[0])
	}
	return s.checkAssertionTime(claims)
}

// findCertificate looks the signing certificate up by the header's
// thumbprint: x5t#S256 (SHA-256, what MSAL Go sends) or else the legacy x5t
// (SHA-1). It returns the thumbprint in the hex form Entra prints.
func findCertificate(header map[string]any, certs []*x509.Certificate) (string, *x509.Certificate) {
	hash := func(c *x509.Certificate) []byte { s := sha256.Sum256(c.Raw); return s[:] }
	encoded, _ := header["x5t#S256"].(string)
	if encoded == "" {
		encoded, _ = header["x5t"].(string)
		hash = func(c *x509.Certificate) []byte { s := sha1.Sum(c.Raw); return s[:] } //nolint:gosec // lookup only
	}
	thumb, err := decodeThumbprint(encoded)
	if err != nil || len(thumb) == 0 {
		return encoded, nil
	}
	for _, c := range certs {
		if bytes.Equal(hash(c), thumb) {
			return ThumbprintHex(thumb), c
		}
	}
	return ThumbprintHex(thumb), nil
}

// checkFederatedAssertion verifies a token of an external issuer in Entra's
// order: the app must trust the issuer at all (only then are the issuer's
// keys fetched), the signature must verify with the issuer's key, the token
// must be current, and a federated credential must match subject and
// audience. Issuer and subject are compared case-sensitively, as Entra
// documents.
func (s *Service) checkFederatedAssertion(raw string, claims jwt.MapClaims, g grantSnapshot, iss, sub string, aud jwt.ClaimStrings) error {
	var candidates []FederatedCredential
	for _, fc := range g.app.Federated {
		if fc.Issuer == iss {
			candidates = append(candidates, fc)
		}
	}
	if len(candidates) == 0 {
		return errFICIssuer(iss)
	}
	issuer := g.issuers[iss]
	if issuer == nil {
		// Choice: Entra would fail to fetch the keys of an issuer nobody
		// serves; the simulator only knows issuers made by NewFederatedIssuer.
		return errFederatedSignature("The key was not found.")
	}
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}), jwt.WithoutClaimsValidation()).
		Parse(raw, func(t *jwt.Token) (any, error) {
			if kid, _ := t.Header["kid"].(string); kid != issuer.kid {
				return nil, errors.New("key not found")
			}
			return &issuer.key.PublicKey, nil
		})
	switch {
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return errFederatedSignature("The key was not found.")
	case err != nil:
		return errFederatedSignature("The provided signature value did not match the expected signature value.")
	}
	if err := s.checkAssertionTime(claims); err != nil {
		return err
	}
	candidates = slices.DeleteFunc(candidates, func(fc FederatedCredential) bool { return fc.Subject != sub })
	if len(candidates) == 0 {
		return errFICSubject(sub)
	}
	if !slices.ContainsFunc(candidates, func(fc FederatedCredential) bool { return slices.Contains(aud, fc.audience()) }) {
		return errFICAudience(strings.Join(aud, " "))
	}
	return nil
}

// checkAssertionTime requires exp, and nbf when present, to hold at the
// simulator's clock give or take assertionSkew.
func (s *Service) checkAssertionTime(claims jwt.MapClaims) error {
	exp, errExp := claims.GetExpirationTime()
	nbf, errNbf := claims.GetNotBefore()
	if errExp != nil || errNbf != nil || exp == nil {
		return errMalformedJWT()
	}
	from := time.Unix(0, 0)
	if nbf != nil {
		from = nbf.Time
	}
	now := s.now()
	if now.After(exp.Add(assertionSkew)) || now.Before(from.Add(-assertionSkew)) {
		return errAssertionTime(now.UTC().Format(assertionTimeLayout), from.UTC().Format(assertionTimeLayout), exp.UTC().Format(assertionTimeLayout))
	}
	return nil
}

// x5cStartsWith reports whether the header's x5c chain (standard base64 DER, RFC 7515 §4.1.6)
// starts with cert.
func x5cStartsWith(header map[string]any, cert *x509.Certificate) bool {
	chain, _ := header["x5c"].([]any)
	if len(chain) == 0 {
		return false
	}
	first, _ := chain[0].(string)
	der, err := base64.StdEncoding.DecodeString(first)
	return err == nil && bytes.Equal(der, cert.Raw)
}
