package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Claims are what `auth check` shows of an access token. They are decoded without verifying the
// signature: the token came straight from Entra ID over TLS, and this is a diagnostic, not an
// authorization decision.
type Claims struct {
	Audience  string
	TenantID  string
	AppID     string
	Roles     []string
	ExpiresAt time.Time
}

// DecodeClaims reads the payload of a JWT.
func DecodeClaims(token string) (Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Claims{}, errors.New("not a JWT (want three dot-separated parts)")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return Claims{}, fmt.Errorf("JWT payload: %w", err)
	}
	var raw struct {
		Aud   json.RawMessage `json:"aud"`
		Tid   string          `json:"tid"`
		AppID string          `json:"appid"` // v1.0 tokens
		Azp   string          `json:"azp"`   // v2.0 tokens
		Roles []string        `json:"roles"`
		Exp   json.Number     `json:"exp"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return Claims{}, fmt.Errorf("JWT payload: %w", err)
	}
	c := Claims{TenantID: raw.Tid, AppID: raw.AppID, Roles: raw.Roles}
	if c.AppID == "" {
		c.AppID = raw.Azp
	}
	// aud is a string, or an array of strings.
	var auds []string
	if json.Unmarshal(raw.Aud, &c.Audience) != nil && json.Unmarshal(raw.Aud, &auds) == nil && len(auds) > 0 {
		c.Audience = auds[0]
	}
	if exp, err := raw.Exp.Int64(); err == nil {
		c.ExpiresAt = time.Unix(exp, 0).UTC()
	}
	return c, nil
}
