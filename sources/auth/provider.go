// Package auth gets app-only tokens from Microsoft Entra ID with MSAL Go (client credentials): one
// confidential client per tenant, shared by all of the tenant's sources, its token cache reused
// until MSAL refreshes it. It adds what MSAL lacks (its apps/confidential package does none of
// these): collapsing of concurrent cold requests, retries of transient failures, and errors that
// say what to fix. It also decodes token claims for `auth check` and builds admin-consent links.
package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/cenkalti/backoff/v5"
	"golang.org/x/sync/singleflight"

	"github.com/alertexport/alertexport/config"
)

// Options configures a Provider.
type Options struct {
	HTTPClient *http.Client     // from sources/httpclient; required
	Env        config.LookupEnv // where secrets named by *_env come from; nil = none
	Logger     *slog.Logger     // nil = discard
	Retry      Retry            // zero = DefaultRetry
	// Context bounds every token request: when it ends (the daemon stops), requests in flight
	// stop. nil = context.Background(). Callers' own contexts only stop their wait.
	Context context.Context
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

// Retry bounds the retries of transient failures (5xx, 429, network errors, no answer).
type Retry struct {
	MaxTries   uint
	Initial    time.Duration // first backoff; it doubles, with jitter, up to Max
	Max        time.Duration
	MaxElapsed time.Duration // no new attempt starts after this
	Attempt    time.Duration // one attempt's limit: an Entra ID that does not answer is retried
}

// DefaultRetry rides out a short Entra ID incident without holding a poll for long.
var DefaultRetry = Retry{MaxTries: 6, Initial: 500 * time.Millisecond, Max: 10 * time.Second, MaxElapsed: time.Minute, Attempt: 30 * time.Second}

// InteractiveRetry is for commands a person waits on, such as `auth check`.
var InteractiveRetry = Retry{MaxTries: 3, Initial: 500 * time.Millisecond, Max: 2 * time.Second, MaxElapsed: 10 * time.Second, Attempt: 15 * time.Second}

// Provider hands out tokens for one tenant.
type Provider struct {
	tenant  config.Tenant
	env     config.LookupEnv
	hc      *http.Client
	log     *slog.Logger
	retry   Retry
	base    context.Context
	observe func(Event)
	flights singleflight.Group

	mu      sync.Mutex
	client  confidential.Client
	credSum [sha256.Size]byte            // of the credential file the client was built from
	issued  map[string][sha256.Size]byte // scope → hash of the token last handed out
}

// New builds the tenant's MSAL client. It reads a secret or a certificate now (and again when
// Entra ID rejects it and the file has changed: a rotated secret); a federated token file is read
// at every token request, since the platform rotates it.
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
	if o.Context == nil {
		o.Context = context.Background()
	}
	p := &Provider{tenant: t, env: o.Env, hc: o.HTTPClient, log: o.Logger.With("tenant", t.Name), retry: o.Retry, base: o.Context, observe: o.Observe, issued: map[string][sha256.Size]byte{}}
	c, sum, err := p.newClient()
	if err != nil {
		return nil, fmt.Errorf("tenant %q: %w", t.Name, err)
	}
	p.client, p.credSum = c, sum
	return p, nil
}

// newClient builds an MSAL client from the credential as it is now.
func (p *Provider) newClient() (confidential.Client, [sha256.Size]byte, error) {
	t := p.tenant
	cred, sum, err := credential(t, p.env)
	if err != nil {
		return confidential.Client{}, sum, err
	}
	opts := []confidential.Option{confidential.WithHTTPClient(p.hc)}
	if t.Credential.Kind == config.CertificateFile {
		opts = append(opts, confidential.WithX5C()) // subject name + issuer authentication needs the chain
	}
	if !config.IsMicrosoftLoginHost(t.AuthorityHost) {
		// A host of our own (a simulator, a test service): MSAL would otherwise ask
		// login.microsoftonline.com to validate it, and MSAL_FORCE_REGION would rewrite it.
		// validate warns about such hosts unless they are loopback.
		opts = append(opts, confidential.WithInstanceDiscovery(false), confidential.WithAzureRegion("DisableMsalForceRegion"))
	}
	c, err := confidential.New(t.AuthorityHost+"/"+t.TenantID, t.ClientID, cred, opts...)
	if err != nil {
		return confidential.Client{}, sum, fmt.Errorf("MSAL client: %w", err)
	}
	return c, sum, nil
}

// credential builds the MSAL credential and returns the hash of the secret material it was
// built from (zero for a federated token, which is read per request).
func credential(t config.Tenant, env config.LookupEnv) (confidential.Credential, [sha256.Size]byte, error) {
	var none [sha256.Size]byte
	switch t.Credential.Kind {
	case config.SecretEnv, config.SecretFile:
		b, err := t.Credential.Read(env)
		if err != nil {
			return confidential.Credential{}, none, err
		}
		cred, err := confidential.NewCredFromSecret(string(b))
		return cred, sha256.Sum256(b), err
	case config.CertificateFile:
		b, err := t.Credential.Read(env)
		if err != nil {
			return confidential.Credential{}, none, err
		}
		if err := config.CheckCertificatePEM(b); err != nil {
			return confidential.Credential{}, none, fmt.Errorf("certificate_file %q: %w", t.Credential.Value, err)
		}
		certs, key, err := confidential.CertFromPEM(b, "")
		if err != nil {
			return confidential.Credential{}, none, fmt.Errorf("certificate_file %q: %w", t.Credential.Value, err)
		}
		cred, err := confidential.NewCredFromCert(certs, key)
		if err != nil {
			return confidential.Credential{}, none, fmt.Errorf("certificate_file %q: %w", t.Credential.Value, err)
		}
		return cred, sha256.Sum256(b), nil
	case config.FederatedTokenFile:
		cr := t.Credential
		return confidential.NewCredFromAssertionCallback(func(context.Context, confidential.AssertionRequestOptions) (string, error) {
			b, err := cr.Read(env) // re-read each time: the kubelet rotates the projected token
			return string(b), err
		}), none, nil
	}
	return confidential.Credential{}, none, errors.New("no credential configured")
}

// reloadCredential rebuilds the client when the credential file changed since it was built:
// secrets and certificates are rotated in place (Kubernetes secrets, Vault agent, cert-manager).
func (p *Provider) reloadCredential() bool {
	if k := p.tenant.Credential.Kind; k != config.SecretFile && k != config.CertificateFile {
		return false
	}
	c, sum, err := p.newClient()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil || sum == p.credSum {
		return false
	}
	p.client, p.credSum = c, sum
	p.log.Info("credential file changed; using the new credential", "file", p.tenant.Credential.Value)
	return true
}

func (p *Provider) currentClient() confidential.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.client
}

// Tenant returns the tenant this provider serves.
func (p *Provider) Tenant() config.Tenant { return p.tenant }

// Token returns an access token for scope (e.g.
// "https://api.securitycenter.microsoft.com/.default"). It is served from MSAL's cache while valid;
// concurrent callers share one request.
func (p *Provider) Token(ctx context.Context, scope string) (string, error) {
	ch := p.flights.DoChan(scope, func() (any, error) {
		// The flight serves every waiter, so it runs on the provider's context, not the first
		// caller's; its bound covers every attempt and wait.
		fctx, cancel := context.WithTimeout(p.base, p.retry.MaxElapsed+p.retry.Attempt+p.retry.Max)
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
	client := p.currentClient()
	bo := &hintedBackOff{ExponentialBackOff: &backoff.ExponentialBackOff{
		InitialInterval: p.retry.Initial, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: p.retry.Max,
	}}
	var last *Error
	ar, err := backoff.Retry(ctx, func() (confidential.AuthResult, error) {
		actx, cancel := context.WithTimeout(ctx, p.retry.Attempt)
		defer cancel()
		ar, err := client.AcquireTokenByCredential(actx, []string{scope})
		if err == nil {
			p.notify(Event{Tenant: p.tenant.Name, Scope: scope, FromCache: ar.Metadata.TokenSource == confidential.TokenSourceCache})
			return ar, nil
		}
		if ctx.Err() != nil && last != nil {
			// The flight's time is up mid-attempt: what the earlier attempts met says more
			// than "no answer in time".
			return ar, backoff.Permanent(last)
		}
		last = classify(err, p.tenant, scope)
		p.notify(Event{Tenant: p.tenant.Name, Scope: scope, Err: last})
		switch {
		case last.credentialRejected() && p.reloadCredential():
			client = p.currentClient()
			return ar, last // try the new credential
		case !last.Temporary:
			return ar, backoff.Permanent(last)
		}
		bo.hint = last.RetryAfter
		return ar, last
	}, backoff.WithBackOff(bo), backoff.WithMaxTries(p.retry.MaxTries), backoff.WithMaxElapsedTime(p.retry.MaxElapsed),
		backoff.WithNotify(func(err error, wait time.Duration) {
			p.log.Warn("token request failed; retrying", "scope", scope, "in", wait.Round(time.Millisecond).String(), "err", err)
		}))
	if err != nil {
		var perm *backoff.PermanentError
		if errors.As(err, &perm) {
			err = perm.Unwrap()
		}
		if last != nil && !errors.As(err, new(*Error)) {
			// The flight's context ended between attempts: say what the attempts met.
			return "", last
		}
		return "", err
	}
	if ar.Metadata.TokenSource != confidential.TokenSourceCache {
		p.log.Debug("token acquired", "scope", scope, "expires", ar.ExpiresOn.UTC().Format(time.RFC3339))
	}
	p.mu.Lock()
	p.issued[scope] = sha256.Sum256([]byte(ar.AccessToken))
	p.mu.Unlock()
	return ar.AccessToken, nil
}

// Invalidate drops a token an API refused (expired early, or revoked) so that the next Token
// call gets a new one from Entra ID. MSAL Go has no way to evict one token, so the client (and
// its cache) is rebuilt — only when token is still the one in use, so that several sources
// that met the same refusal cause one new request, not one each.
func (p *Provider) Invalidate(scope, token string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if h, ok := p.issued[scope]; !ok || h != sha256.Sum256([]byte(token)) {
		return
	}
	c, sum, err := p.newClient()
	if err != nil {
		p.log.Warn("cannot renew the token client; keeping the cached token", "err", err)
		return
	}
	p.client, p.credSum = c, sum
	clear(p.issued)
	p.log.Info("the API refused a cached token; the next call gets a new one", "scope", scope)
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

func hasAny(have, want []string) bool {
	return slices.ContainsFunc(have, func(r string) bool { return slices.Contains(want, r) })
}

// audience is the aud a token for scope carries: the resource, without "/.default".
func audience(scope string) string { return strings.TrimSuffix(scope, "/.default") }
