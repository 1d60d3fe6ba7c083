package entra

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/alertexport/alertexport/internal/sim/simapi"
)

// entraError is a refusal in Entra ID's vocabulary: HTTP status, OAuth 2.0
// "error" value, AADSTS code and the text that follows "AADSTS<code>: ".
//
// Sources for codes and wording: Microsoft's AADSTS reference
// (learn.microsoft.com/entra/identity-platform/reference-error-codes), the
// Azure SDK troubleshooting guides, and error bodies quoted verbatim in
// public MSAL / azure-workload-identity issues. Choices where Entra's answer
// is not documented are marked "choice:".
type entraError struct {
	status int
	oauth  string
	code   int
	text   string
}

func (e *entraError) Error() string { return fmt.Sprintf("AADSTS%d: %s", e.code, e.text) }

// Protocol errors.

func errTenantNotFound(oauth, tenant string) *entraError {
	return &entraError{http.StatusBadRequest, oauth, 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant)}
}

// errNoTenantInfo is what Entra answers when an app-only token is asked of
// /common or /organizations: client credentials need a tenant.
func errNoTenantInfo() *entraError {
	return &entraError{http.StatusBadRequest, "invalid_request", 50059, "No tenant-identifying information found in either the request or implied by any provided credentials."}
}

func errMissingParameter(name string) *entraError {
	return &entraError{http.StatusBadRequest, "invalid_request", 900144, fmt.Sprintf("The request body must contain the following parameter: '%s'.", name)}
}

func errUnsupportedGrantType(grantType string) *entraError {
	return &entraError{http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", grantType)}
}

func errScopeNotDefault(scope string) *entraError {
	return &entraError{http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope)}
}

func errMultipleResources(scope string) *entraError {
	return &entraError{http.StatusBadRequest, "invalid_scope", 28000, fmt.Sprintf("Provided value for the input parameter scope is not valid because it contains more than one resource. Scope %s is not valid.", scope)}
}

// errBadAssertionType: choice: Entra's answer to a client_assertion_type
// other than jwt-bearer is not documented; AADSTS90023 is its generic
// "InvalidRequest".
func errBadAssertionType(got string) *entraError {
	return &entraError{http.StatusBadRequest, "invalid_request", 90023, fmt.Sprintf("The client_assertion_type '%s' is not supported. Use 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.", got)}
}

// errTwoCredentials: choice: a request with both a secret and an assertion;
// undocumented, answered with the generic AADSTS90023.
func errTwoCredentials() *entraError {
	return &entraError{http.StatusBadRequest, "invalid_request", 90023, "The request contains both 'client_assertion' and 'client_secret'; present only one client credential."}
}

// Directory errors.

func errAppNotFound(clientID, tenant string) *entraError {
	return &entraError{http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenant)}
}

func errAppDisabled(clientID string) *entraError {
	return &entraError{http.StatusBadRequest, "unauthorized_client", 7000112, fmt.Sprintf("Application '%s' is disabled.", clientID)}
}

func errResourceNotFound(resource, tenant string) *entraError {
	return &entraError{http.StatusBadRequest, "invalid_resource", 500011, fmt.Sprintf("The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", resource, tenant)}
}

// Client authentication errors. Entra answers invalid_client with 401.

func errNoCredential() *entraError {
	return &entraError{http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
}

func errBadSecret(clientID string) *entraError {
	return &entraError{http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID)}
}

func errSecretExpired(clientID string) *entraError {
	return &entraError{http.StatusUnauthorized, "invalid_client", 7000222, fmt.Sprintf("The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", clientID)}
}

// errMalformedJWT: Entra answers 400 invalid_request for an assertion that
// is not a JWT at all.
func errMalformedJWT() *entraError {
	return &entraError{http.StatusBadRequest, "invalid_request", 50027, "JWT token is invalid or is malformed."}
}

// errAssertionClientMismatch: a certificate assertion whose sub is not the
// client_id (Azure SDK troubleshooting guide, ClientAssertionCredential).
func errAssertionClientMismatch() *entraError {
	return &entraError{http.StatusUnauthorized, "invalid_client", 700021, "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials ."}
}

// errAssertionAudience: a certificate assertion whose aud is not this
// tenant's token endpoint. The code and wording are the ones the Azure SDK
// troubleshooting guide lists for a wrong assertion audience; Entra does not
// name the expected audience in it, so the simulator appends it (the only
// addition to Entra's text, to make test failures readable).
func errAssertionAudience(expected string) *entraError {
	return &entraError{http.StatusUnauthorized, "invalid_client", 700023, fmt.Sprintf("Client assertion audience claim does not match Realm issuer. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials . Expected audience: '%s'.", expected)}
}

// errNoKeys: the app has no certificate at all (observed Entra answer, e.g.
// MSAL.NET issue #2938).
func errNoKeys() *entraError {
	return &entraError{http.StatusUnauthorized, "invalid_client", 700026, "Client application has no configured keys."}
}

// errBadCertSignature: the reasons are Entra's: "The key was not found." for
// an unknown thumbprint, "The provided signature value did not match the
// expected signature value." for a bad signature, "The key used is expired."
// for a registered certificate outside its validity.
func errBadCertSignature(reason, thumbprint, clientID string) *entraError {
	return &entraError{http.StatusUnauthorized, "invalid_client", 700027, fmt.Sprintf("Client assertion contains an invalid signature. [Reason - %s, Thumbprint of key used by client: '%s', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments#app-registration-and-token-service-root-endpoints.]", reason, thumbprint, clientID)}
}

// errAssertionTime uses Entra's format, 7 fractional digits and all.
func errAssertionTime(now, from, expiry string) *entraError {
	return &entraError{http.StatusUnauthorized, "invalid_client", 700024, fmt.Sprintf("Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .", now, from, expiry)}
}

// errFederatedSignature: choice: Entra's answer when it cannot validate a
// federated token's signature is AADSTS50013 "Assertion failed signature
// validation." (the same code it uses for other assertion signatures).
func errFederatedSignature(reason string) *entraError {
	return &entraError{http.StatusUnauthorized, "invalid_client", 50013, fmt.Sprintf("Assertion failed signature validation. [Reason - %s]", reason)}
}

// The three "no matching federated identity record" answers. Since late
// 2023 Entra names the claim that did not match (AADSTS700211 issuer,
// 700212 audience, 700213 subject), all 401 invalid_client; the older
// catch-all AADSTS70021 is no longer what it answers (quoted error bodies in
// Azure/azure-workload-identity#1200 and Azure/login#461).
const ficHelp = "Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation"

func errFICIssuer(iss string) *entraError {
	return &entraError{http.StatusUnauthorized, "invalid_client", 700211, fmt.Sprintf("No matching federated identity record found for presented assertion issuer '%s'. %s", iss, ficHelp)}
}

func errFICAudience(aud string) *entraError {
	return &entraError{http.StatusUnauthorized, "invalid_client", 700212, fmt.Sprintf("No matching federated identity record found for presented assertion audience '%s'. %s", aud, ficHelp)}
}

func errFICSubject(sub string) *entraError {
	return &entraError{http.StatusUnauthorized, "invalid_client", 700213, fmt.Sprintf("No matching federated identity record found for presented assertion subject '%s'. %s", sub, ficHelp)}
}

// Errors outside the token protocol.

// errNotFound: choice: login.microsoftonline.com answers unknown paths with
// an HTML page; the simulator keeps Entra's JSON error shape instead, with
// the generic AADSTS90023 "InvalidRequest".
func errNotFound(path string) *entraError {
	return &entraError{http.StatusNotFound, "invalid_request", 90023, fmt.Sprintf("The requested endpoint '%s' does not exist.", path)}
}

// errMethodNotAllowed: the wording of AADSTS900561 ("The endpoint only
// accepts POST requests. Received a GET request."). Choice: Entra sends it
// with 400; the simulator answers 405 with an Allow header, as net/http
// clients and the brief expect of a wrong method.
func errMethodNotAllowed(method, allow string) *entraError {
	return &entraError{http.StatusMethodNotAllowed, "invalid_request", 900561, fmt.Sprintf("The endpoint only accepts %s requests. Received a %s request.", allow, method)}
}

// errorBody is the JSON Entra sends with every error, fields in its order.
type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri"`
}

// TimestampLayout is the layout of Entra's "timestamp" and of the
// "Timestamp:" line in error_description.
const TimestampLayout = "2006-01-02 15:04:05Z"

// writeError sends e in Entra's error shape. The correlation ID echoes the
// request's client-request-id (MSAL always sends one), as Entra does.
func (s *Service) writeError(w http.ResponseWriter, r *http.Request, e *entraError) {
	trace := simapi.NewGUID()
	corr := correlationID(r)
	ts := s.now().UTC().Format(TimestampLayout)
	body := errorBody{
		Error:            e.oauth,
		ErrorDescription: fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", e.code, e.text, trace, corr, ts),
		ErrorCodes:       []int{e.code},
		Timestamp:        ts,
		TraceID:          trace,
		CorrelationID:    corr,
		ErrorURI:         s.url + "/error?code=" + strconv.Itoa(e.code),
	}
	w.Header().Set("x-ms-request-id", trace)
	simapi.WriteJSON(w, e.status, body)
}

// correlationID returns the caller's client-request-id when it is a
// plausible id, otherwise a fresh one.
func correlationID(r *http.Request) string {
	id := r.Header.Get("client-request-id")
	if id == "" || len(id) > 64 || strings.ContainsFunc(id, func(c rune) bool {
		return !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z')
	}) {
		return simapi.NewGUID()
	}
	return id
}
