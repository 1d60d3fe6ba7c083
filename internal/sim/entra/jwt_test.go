package entra

import (
	"log/slog"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestFederatedIssuerToken(t *testing.T) {
	clock := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	s, err := New(slog.New(slog.DiscardHandler), now, time.Hour, "https://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	iss, err := s.NewFederatedIssuer("https://issuer.example")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := iss.Sign("subject", "", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return &iss.key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(now))
	if err != nil {
		t.Fatal(err)
	}
	claims, _ := tok.Claims.(jwt.MapClaims)
	unix := float64(now().Unix())
	want := map[string]any{"iss": "https://issuer.example", "sub": "subject", "aud": DefaultFederatedAudience,
		"iat": unix, "nbf": unix, "exp": unix + 600}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("%s = %v, want %v", k, claims[k], v)
		}
	}
	if tok.Header["kid"] != iss.kid || tok.Header["alg"] != "RS256" {
		t.Errorf("header %v", tok.Header)
	}
}
