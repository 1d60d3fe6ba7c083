package entra

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/alertexport/alertexport/internal/sim/simapi"
)

// Fault is an injected failure of a token request.
type Fault struct {
	Status     int           // HTTP status to answer with (500, 503, 429, 400, 401, ...); 0 = 500
	Code       int           // AADSTS code in the body; 0 = a default for Status (see faultError)
	RetryAfter time.Duration // sets Retry-After, in whole seconds rounded up, when > 0
	Drop       bool          // close the connection instead of answering: a network error for the client
	// Hang holds the request this long (or until the client gives up) before the fault plays:
	// an Entra ID that accepts connections and does not answer.
	Hang time.Duration
}

type queuedFault struct {
	n     int
	fault Fault
}

// FailTokenRequests makes the next n POSTs to the token endpoint fail as f
// says, before any other check. Calls queue up in order.
func (s *Service) FailTokenRequests(n int, f Fault) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, queuedFault{n: n, fault: f})
}

// nextFault counts a token request and takes the fault queued for it, if any.
func (s *Service) nextFault() (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens++
	if len(s.faults) == 0 {
		return Fault{}, false
	}
	f := s.faults[0].fault
	if s.faults[0].n--; s.faults[0].n == 0 {
		s.faults = s.faults[1:]
	}
	return f, true
}

// faultError is the answer for an injected fault. Defaults when Code is 0,
// chosen among Entra's documented codes:
//   - 429: temporarily_unavailable, AADSTS90055 TenantThrottlingError
//     ("There are too many incoming requests."), not AADSTS50196, which is
//     Entra's loop detection and means "stop", not "slow down".
//   - 503 (and 502, 504): temporarily_unavailable, AADSTS90033
//     ("A transient error has occurred. Please try again.").
//   - 500 and any other 5xx: server_error, AADSTS50000 (TokenIssuanceError:
//     "There was an error issuing a token or an issue with our sign-in
//     service.").
//   - 401: invalid_client, AADSTS7000215 (invalid client secret).
//   - 400 and any other 4xx: invalid_request, AADSTS90023 (InvalidRequest).
func faultError(f Fault) *entraError {
	status := f.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	e := &entraError{status: status}
	switch {
	case status == http.StatusTooManyRequests:
		e.oauth, e.code, e.text = "temporarily_unavailable", 90055, "There are too many incoming requests. Please try again later."
	case status == http.StatusServiceUnavailable, status == http.StatusBadGateway, status == http.StatusGatewayTimeout:
		e.oauth, e.code, e.text = "temporarily_unavailable", 90033, "A transient error has occurred. Please try again."
	case status >= 500:
		e.oauth, e.code, e.text = "server_error", 50000, "There was an error issuing a token or an issue with our sign-in service."
	case status == http.StatusUnauthorized:
		e.oauth, e.code, e.text = "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID."
	default:
		e.oauth, e.code, e.text = "invalid_request", 90023, "The authentication service request isn't valid."
	}
	if f.Code != 0 && f.Code != e.code {
		e.code, e.text = f.Code, "Simulated failure injected by the test."
	}
	return e
}

// playFault answers a token request with an injected fault.
func (s *Service) playFault(w http.ResponseWriter, r *http.Request, f Fault) {
	if f.Hang > 0 {
		t := time.NewTimer(f.Hang)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return // the client gave up, as it should
		}
	}
	if f.Drop {
		simapi.DropConnection(w)
		return
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((f.RetryAfter+time.Second-1)/time.Second), 10))
	}
	s.writeError(w, r, faultError(f))
}

// TokenRequest records one POST to the token endpoint.
type TokenRequest struct {
	TenantID   string // the tenant's ID when it exists (even if named by a domain), else the path segment
	ClientID   string // as sent
	Resource   string // the resource of the scope, once the scope was found valid
	Credential string // "secret" | "certificate" | "federated" | "" when none or not reached
	Status     int    // HTTP status answered; 0 when the connection was dropped
	Code       int    // AADSTS code when it failed, else 0
}

func (s *Service) logTokenRequest(tr TokenRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenLog = append(s.tokenLog, tr)
}

// TokenRequests is the number of POSTs to the token endpoint so far, all
// outcomes (faults and dropped connections included).
func (s *Service) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens
}

// MetadataRequests is the number of OpenID configuration GETs so far.
func (s *Service) MetadataRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.metadata
}

// TokenLog returns a copy of every token request so far, in order.
func (s *Service) TokenLog() []TokenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.tokenLog)
}
