package auth

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/alertexport/alertexport/config"
)

// CheckResult is what `auth check` found for one (tenant, source).
type CheckResult struct {
	Tenant   string
	Source   config.SourceKind
	Claims   *Claims  // nil when no token could be had
	Problems []string // each says what is wrong and how to fix it
}

// OK reports whether the source can read alerts with this token.
func (r CheckResult) OK() bool { return r.Claims != nil && len(r.Problems) == 0 }

// Check acquires a token for the source and compares its claims with what the source needs.
func Check(ctx context.Context, p *Provider, s config.Source, now time.Time) CheckResult {
	t := p.Tenant()
	res := CheckResult{Tenant: t.Name, Source: s.Kind}
	tok, err := p.Token(ctx, s.Scope)
	if err != nil {
		res.Problems = append(res.Problems, err.Error())
		return res
	}
	c, err := DecodeClaims(tok)
	if err != nil {
		res.Problems = append(res.Problems, fmt.Sprintf("the access token cannot be decoded (%v); Entra ID sent something unexpected", err))
		return res
	}
	res.Claims = &c
	if want := audience(s.Scope); !strings.EqualFold(c.Audience, want) {
		res.Problems = append(res.Problems, fmt.Sprintf("the token is for %q, not %q: the API would answer 401/403; check cloud = %q", c.Audience, want, t.Cloud.Name))
	}
	if !strings.EqualFold(c.TenantID, t.TenantID) {
		res.Problems = append(res.Problems, fmt.Sprintf("the token is from tenant %s, not tenant_id %s: check authority_host and tenant_id", c.TenantID, t.TenantID))
	}
	if !strings.EqualFold(c.AppID, t.ClientID) {
		res.Problems = append(res.Problems, fmt.Sprintf("the token is for app %s, not client_id %s", c.AppID, t.ClientID))
	}
	if c.ExpiresAt.IsZero() {
		res.Problems = append(res.Problems, "the token has no exp claim; Entra ID sent something unexpected")
	} else if !c.ExpiresAt.After(now) {
		res.Problems = append(res.Problems, fmt.Sprintf("the token expired at %s: check this machine's clock", c.ExpiresAt.Format(time.RFC3339)))
	}
	if need := s.API.Roles; len(need) > 0 && !hasAny(c.Roles, need) {
		res.Problems = append(res.Problems, fmt.Sprintf(
			"the app has none of the roles %s needs (%s); fix: in the Entra admin center open App registrations → %s → API permissions → Add a permission → %s → %q → Application permissions → %s, then Grant admin consent for the tenant",
			s.Kind, strings.Join(need, " or "), t.ClientID, s.API.EntraTab, s.API.Entra, need[0]))
	}
	return res
}

// ConsentURL is the link an administrator of a customer tenant opens to consent to a
// multi-tenant (partner) app, in the form Microsoft documents for Defender for Endpoint partner
// apps (defender-endpoint/api/exposed-apis-create-app-partners.md). tenant "" means "common":
// the admin's own tenant.
func ConsentURL(cloud config.Cloud, clientID, tenant string) string {
	if tenant == "" {
		tenant = "common"
	}
	// The documented parameter order, so the link reads like the one in Microsoft's guide.
	return cloud.AuthorityHost + "/" + url.PathEscape(tenant) + "/oauth2/authorize?prompt=consent&client_id=" +
		url.QueryEscape(clientID) + "&response_type=code&sso_reload=true"
}
