// Package auth gets app-only tokens from Microsoft Entra ID with MSAL Go (client credentials):
// one confidential client per tenant, shared by all of the tenant's sources, its token cache
// reused until MSAL refreshes it. It adds what MSAL lacks (research/libs.md §1): collapsing of
// concurrent cold requests, retries of transient failures, and errors that say what to fix.
// It also decodes token claims for `auth check` and builds admin-consent links.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/cenkalti/backoff/v5"
	"golang.org/x/sync/singleflight"

	"github.com/alertexport/alertexport/config"
)

// Options configures a Provider.
type Options struct {
	HTTPClient *http.Client     // from sources/httpclient; required
	Env        config.LookupEnv // where secrets named by *_env come from; nil = the process environment
	Logger     *slog.Logger     // nil = discard
	Retry      Retry            // zero = DefaultRetry
	// Observe, if set, is told about every token request attempt (for metrics).
	Observe func(Event)
}

// Event describes one attempt to get a token.
type Event struct {
	Tenant    string
	Scope     string
	FromCache bool  // served from MSAL's cache, no request to Entra ID
	Err       error // nil on success
}

// Retry bounds the retries of transient failures (5xx, 429, network errors).
type Retry struct {
	MaxTries   uint
	Initial    time.Duration
	Max        time.Duration
	MaxElapsed time.Duration
}

// DefaultRetry retries for up to a minute, which rides out a short Entra ID incident without
// holding a poll for long.
var DefaultRetry = Retry{MaxTries: 6, Initial: 500 * time.Millisecond, Max: 10 * time.Second, MaxElapsed: time.Minute}

// flightTimeout bounds one shared acquisition, retries included.
const flightTimeout = 2 * time.Minute

// Provider hands out tokens for one tenant.
type Provider struct {
	tenant  config.Tenant
	client  confidential.Client
	log     *slog.Logger
	retry   Retry
	observe func(Event)
	flights singleflight.Group
}

// New builds the tenant's MSAL client. It reads the credential (a secret or a certificate) now;
// a federated token file is read at every token request, since the platform rotates it.
func New(t config.Tenant, o Options) (*Provider, error) {
	if o.HTTPClient == nil {
		return nil, errors.New("auth: no HTTP client")
	}
	if o.Env == nil {
		o.Env = func(string) (string, bool) { return "", false }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Retry == (Retry{}) {
		o.Retry = DefaultRetry
	}
	cred, err := credential(t, o.Env)
	if err != nil {
		return nil, fmt.Errorf("tenant %q: %w", t.Name, err)
	}
	opts := []confidential.Option{confidential.WithHTTPClient(o.HTTPClient)}
	if t.Credential.Kind == config.CertificateFile {
		opts = append(opts, confidential.WithX5C()) // subject name + issuer auth needs the chain
	}
	if !knownAuthority(t.AuthorityHost) {
		// A host of our own (a simulator, a test): MSAL would otherwise ask
		// login.microsoftonline.com to validate it, and MSAL_FORCE_REGION would rewrite it.
		opts = append(opts, confidential.WithInstanceDiscovery(false), confidential.WithAzureRegion("DisableMsalForceRegion"))
	}
	c, err := confidential.New(t.AuthorityHost+"/"+t.TenantID, t.ClientID, cred, opts...)
	if err != nil {
		return nil, fmt.Errorf("tenant %q: MSAL client: %w", t.Name, err)
	}
	return &Provider{tenant: t, client: c, log: o.Logger.With("tenant", t.Name), retry: o.Retry, observe: o.Observe}, nil
}

func knownAuthority(host string) bool {
	for _, name := range config.CloudNames() {
		if c, _ := config.LookupCloud(name); c.AuthorityHost == host {
			return true
		}
	}
	return false
}

func credential(t config.Tenant, env config.LookupEnv) (confidential.Credential, error) {
	switch t.Credential.Kind {
	case config.SecretEnv, config.SecretFile:
		b, err := t.Credential.Read(env)
		if err != nil {
			return confidential.Credential{}, err
		}
		return confidential.NewCredFromSecret(string(b))
	case config.CertificateFile:
		b, err := t.Credential.Read(env)
		if err != nil {
			return confidential.Credential{}, err
		}
		if err := config.CheckCertificatePEM(b); err != nil {
			return confidential.Credential{}, fmt.Errorf("certificate_file %q: %w", t.Credential.Value, err)
		}
		certs, key, err := confidential.CertFromPEM(b, "")
		if err != nil {
			return confidential.Credential{}, fmt.Errorf("certificate_file %q: %w", t.Credential.Value, err)
		}
		cred, err := confidential.NewCredFromCert(certs, key)
		if err != nil {
			return confidential.Credential{}, fmt.Errorf("certificate_file %q: %w (Entra ID certificate credentials need an RSA key)", t.Credential.Value, err)
		}
		return cred, nil
	case config.FederatedTokenFile:
		cr := t.Credential
		return confidential.NewCredFromAssertionCallback(func(context.Context, confidential.AssertionRequestOptions) (string, error) {
			b, err := cr.Read(env) // re-read each time: the kubelet rotates the projected token
			return string(b), err
		}), nil
	}
	return confidential.Credential{}, errors.New("no credential configured")
}

// Tenant returns the tenant this provider serves.
func (p *Provider) Tenant() config.Tenant { return p.tenant }

// Token returns an access token for scope (e.g. "https://api.securitycenter.microsoft.com/.default").
// It is served from MSAL's cache while valid; concurrent callers share one request.
func (p *Provider) Token(ctx context.Context, scope string) (string, error) {
	ch := p.flights.DoChan(scope, func() (any, error) {
		// The flight serves every waiter, so it must not die with the first caller's context.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flightTimeout)
		defer cancel()
		return p.acquire(fctx, scope)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (p *Provider) acquire(ctx context.Context, scope string) (string, error) {
	bo := &hintedBackOff{ExponentialBackOff: &backoff.ExponentialBackOff{
		InitialInterval: p.retry.Initial, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: p.retry.Max,
	}}
	ar, err := backoff.Retry(ctx, func() (confidential.AuthResult, error) {
		ar, err := p.client.AcquireTokenByCredential(ctx, []string{scope})
		if err == nil {
			p.notify(Event{Tenant: p.tenant.Name, Scope: scope, FromCache: ar.Metadata.TokenSource == confidential.TokenSourceCache})
			return ar, nil
		}
		e := classify(err, p.tenant, scope)
		p.notify(Event{Tenant: p.tenant.Name, Scope: scope, Err: e})
		if !e.Temporary {
			return ar, backoff.Permanent(e)
		}
		bo.hint = e.RetryAfter
		p.log.Warn("token request failed; retrying", "scope", scope, "status", e.Status, "code", e.Code, "err", e.Detail)
		return ar, e
	}, backoff.WithBackOff(bo), backoff.WithMaxTries(p.retry.MaxTries), backoff.WithMaxElapsedTime(p.retry.MaxElapsed))
	if err != nil {
		var perm *backoff.PermanentError
		if errors.As(err, &perm) {
			err = perm.Unwrap()
		}
		return "", err
	}
	if ar.Metadata.TokenSource != confidential.TokenSourceCache {
		p.log.Debug("token acquired", "scope", scope, "expires", ar.ExpiresOn.UTC().Format(time.RFC3339))
	}
	return ar.AccessToken, nil
}

func (p *Provider) notify(e Event) {
	if p.observe != nil {
		p.observe(e)
	}
}

// hintedBackOff waits at least as long as the server asked (Retry-After), else backs off
// exponentially with jitter. backoff.RetryAfter would lose the error that caused the wait.
type hintedBackOff struct {
	*backoff.ExponentialBackOff
	hint time.Duration
}

func (b *hintedBackOff) NextBackOff() time.Duration {
	next := b.ExponentialBackOff.NextBackOff()
	if b.hint > next && next != backoff.Stop {
		next = b.hint
	}
	b.hint = 0
	return next
}

// RequiredRoles lists the application roles a source accepts; any one of them is enough
// (SPEC §1, from the APIs' permission tables).
func RequiredRoles(kind config.SourceKind) []string {
	switch kind {
	case config.Endpoint:
		return []string{"Alert.Read.All", "Alert.ReadWrite.All"}
	case config.CloudApps:
		return []string{"Investigation.read", "Investigation.manage", "Discovery.read", "Discovery.manage"}
	case config.Graph:
		return []string{"SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All"}
	}
	return nil
}

// apiNames are the names the Entra admin center shows under "APIs my organization uses".
var apiNames = map[config.SourceKind]string{
	config.Endpoint:  "WindowsDefenderATP",
	config.CloudApps: "Microsoft Cloud App Security",
	config.Graph:     "Microsoft Graph",
}

func hasAny(have, want []string) bool {
	return slices.ContainsFunc(have, func(r string) bool { return slices.Contains(want, r) })
}

// audience is the aud a token for scope carries: the resource, without "/.default".
func audience(scope string) string { return strings.TrimSuffix(scope, "/.default") }
