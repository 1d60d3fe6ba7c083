package auth

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"

	"github.com/alertexport/alertexport/config"
	"github.com/alertexport/alertexport/sources/httpclient"
)

// Error is a failed token request, explained.
type Error struct {
	Tenant     string
	Scope      string
	Status     int    // HTTP status from Entra ID; 0 when no answer came
	Code       int    // AADSTS code; 0 when none
	Detail     string // what Entra ID (or the network) said, with the correlation ID
	Fix        string // what the operator should do
	Temporary  bool   // worth retrying: 5xx, 429, network
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tenant %q: token for %s: %s", e.Tenant, e.Scope, e.Detail)
	if e.Fix != "" {
		b.WriteString("; fix: ")
		b.WriteString(e.Fix)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// credentialRejected reports whether Entra ID refused the secret or certificate itself, which a
// rotated credential file may fix.
func (e *Error) credentialRejected() bool {
	switch e.Code {
	case 7000215, 7000222, 700027, 700026:
		return true
	}
	return false
}

// entraError is the body Entra ID sends with a failed token request.
type entraError struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	Codes         []int  `json:"error_codes"`
	CorrelationID string `json:"correlation_id"`
	TraceID       string `json:"trace_id"`
	Timestamp     string `json:"timestamp"`
}

// classify turns whatever MSAL returned into an *Error that says what happened and what to do.
// It never includes the request (which carries the secret or assertion).
func classify(err error, t config.Tenant, scope string) *Error {
	e := &Error{Tenant: t.Name, Scope: scope, Err: err}
	var call msalerrors.CallErr
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var uerr *url.Error
	var redirect *httpclient.RedirectError
	switch {
	case errors.As(err, &call) && call.Resp != nil:
		e.Status = call.Resp.StatusCode
		body, _ := io.ReadAll(io.LimitReader(call.Resp.Body, 64<<10))
		call.Resp.Body = io.NopCloser(bytes.NewReader(body)) // leave it readable for anyone after us
		var ee entraError
		if json.Unmarshal(body, &ee) == nil && ee.Error != "" {
			if len(ee.Codes) > 0 {
				e.Code = ee.Codes[0]
			}
			e.Detail = fmt.Sprintf("HTTP %d %s: %s", e.Status, ee.Error, firstLine(ee.Description))
			// What Microsoft support asks for.
			var ids []string
			for _, id := range []struct{ name, v string }{{"trace ID", ee.TraceID}, {"correlation ID", ee.CorrelationID}, {"at", ee.Timestamp}} {
				if id.v != "" {
					ids = append(ids, id.name+" "+id.v)
				}
			}
			if len(ids) > 0 {
				e.Detail += " (" + strings.Join(ids, ", ") + ")"
			}
		} else {
			e.Detail = fmt.Sprintf("HTTP %d from %s: %s", e.Status, call.Req.URL.Host, excerpt(body))
		}
		e.Temporary = e.Status >= 500 || e.Status == http.StatusTooManyRequests
		e.RetryAfter = retryAfter(call.Resp.Header.Get("Retry-After"), time.Now())
		e.Fix = fixFor(e.Code, t)
		switch {
		case e.Fix != "":
		case e.Temporary:
			e.Fix = "Entra ID is unavailable or throttling; alertexport retried and will try again at the next poll"
		case e.Code != 0:
			e.Fix = fmt.Sprintf("see https://login.microsoftonline.com/error?code=%d", e.Code)
		}
	case errors.As(err, &redirect):
		e.Detail = redirect.Error()
		e.Fix = fmt.Sprintf("Entra ID answers token requests directly, so something else did: check authority_host (%s) and cloud, and any proxy on the way (HTTPS_PROXY)", t.AuthorityHost)
	case errors.As(err, &verify), errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalid):
		e.Detail = "TLS: " + rootCause(err).Error()
		e.Fix = fmt.Sprintf("%s presents a certificate this machine does not trust; if a proxy intercepts TLS, add its CA to [worker] ca_file", t.AuthorityHost)
	case errors.Is(err, context.DeadlineExceeded):
		e.Temporary = true
		e.Detail = "no answer from " + t.AuthorityHost + " in time"
		e.Fix = "Entra ID or the path to it is slow; alertexport retried and will try again at the next poll"
	case errors.As(err, &uerr), isNetwork(err):
		e.Temporary = true
		e.Detail = "network: " + rootCause(err).Error()
		e.Fix = fmt.Sprintf("cannot reach %s: check DNS, the proxy (HTTPS_PROXY) and the firewall", t.AuthorityHost)
	default:
		// MSAL's own checks (a bad authority, a metadata document it rejects) and credential
		// read errors, such as a federated token file that disappeared.
		e.Detail = err.Error()
	}
	return e
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if s, err := strconv.Atoi(h); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if at, err := http.ParseTime(h); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}

func isNetwork(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

func excerpt(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}

// fixFor says what to do about an AADSTS code, in terms of this tenant's config; "" when it
// has nothing specific to say.
func fixFor(code int, t config.Tenant) string {
	where := fmt.Sprintf("%s %q", t.Credential.Kind, t.Credential.Value)
	app := fmt.Sprintf("App registrations → %s", t.ClientID)
	switch code {
	case 7000215:
		return fmt.Sprintf("the client secret is wrong: copy the secret's Value (not its Secret ID) from %s → Certificates & secrets into %s", app, where)
	case 7000222:
		return fmt.Sprintf("the client secret has expired: create a new one under %s → Certificates & secrets and put its Value into %s", app, where)
	case 700016:
		return fmt.Sprintf("there is no app %s in tenant %s: check client_id, tenant_id and cloud; a multi-tenant (partner) app must first be consented by an admin of that tenant (alertexport consent-url --client-id %s --cloud %s)", t.ClientID, t.TenantID, t.ClientID, t.Cloud.Name)
	case 90002, 900023:
		return fmt.Sprintf("tenant %s does not exist in the %s cloud: check tenant_id and cloud", t.TenantID, t.Cloud.Name)
	case 65001:
		return fmt.Sprintf("admin consent is missing: an administrator of the tenant grants it under %s → API permissions → Grant admin consent (or with alertexport consent-url --client-id %s)", app, t.ClientID)
	case 500011:
		return fmt.Sprintf("the API is not available in tenant %s: the product is not provisioned there, or cloud = %q is wrong for this tenant", t.TenantID, t.Cloud.Name)
	case 7000112:
		return "the application is disabled in the tenant: enable it under Enterprise applications → Properties → Enabled for users to sign in"
	case 700026:
		return fmt.Sprintf("the app has no certificate registered: upload the public certificate of %s under %s → Certificates & secrets", where, app)
	case 700023:
		return fmt.Sprintf("Entra ID expected another token endpoint in the assertion: check authority_host (%s) and tenant_id", t.AuthorityHost)
	case 7000229:
		return fmt.Sprintf("the app has no service principal in tenant %s: an administrator of the tenant must consent to it (alertexport consent-url --client-id %s --cloud %s)", t.TenantID, t.ClientID, t.Cloud.Name)
	case 7000218:
		return "Entra ID got no credential: check the tenant's credential in the config"
	case 700027:
		return fmt.Sprintf("Entra ID does not accept the certificate in %s: upload its public certificate under %s → Certificates & secrets, and check it has not expired", where, app)
	case 700024:
		return "the client assertion is outside its validity period: check this machine's clock (NTP); for a federated token file, check that the platform refreshes it"
	case 70021, 700211, 700212, 700213:
		return fmt.Sprintf("no federated credential of the app matches this token: under %s → Certificates & secrets → Federated credentials, add one with the issuer, subject and audience the error names", app)
	case 50013, 50027:
		return fmt.Sprintf("the assertion in %s is not a valid signed token from a trusted issuer", where)
	case 53003:
		return "Conditional Access blocked the sign-in: ask an Entra ID administrator to allow this workload identity from where alertexport runs"
	}
	return ""
}
