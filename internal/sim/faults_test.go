package sim

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFaultAnswers(t *testing.T) {
	f := newFixture(t, Options{})
	s := f.s
	tests := []struct {
		name       string
		fault      Fault
		status     int
		oauth      string
		code       int
		retryAfter string
	}{
		{"500", Fault{Status: 500}, 500, "server_error", 50000, ""},
		{"status 0 means 500", Fault{}, 500, "server_error", 50000, ""},
		{"503 with Retry-After rounded up", Fault{Status: 503, RetryAfter: 1500 * time.Millisecond}, 503, "temporarily_unavailable", 90033, "2"},
		{"504", Fault{Status: 504}, 504, "temporarily_unavailable", 90033, ""},
		{"429", Fault{Status: 429, RetryAfter: 30 * time.Second}, 429, "temporarily_unavailable", 90055, "30"},
		{"401", Fault{Status: 401}, 401, "invalid_client", 7000215, ""},
		{"400", Fault{Status: 400}, 400, "invalid_request", 90023, ""},
		{"explicit code", Fault{Status: 400, Code: 50126}, 400, "invalid_request", 50126, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.FailTokenRequests(1, tt.fault)
			a := postToken(t, s, tenantA, secretForm(appA, secretA, mdeScope))
			checkRefusal(t, s, a, tt.status, tt.oauth, tt.code)
			if got := a.header.Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tt.retryAfter)
			}
			if a := postToken(t, s, tenantA, secretForm(appA, secretA, mdeScope)); a.status != http.StatusOK {
				t.Errorf("the fault was not used up: %v", a)
			}
		})
	}
}

func TestFaultQueue(t *testing.T) {
	f := newFixture(t, Options{})
	s := f.s
	s.FailTokenRequests(2, Fault{Status: 503})
	s.FailTokenRequests(0, Fault{Status: 400}) // nothing
	s.FailTokenRequests(1, Fault{Status: 429})

	// Faults come before every other check, even the tenant's.
	statuses := []int{
		postToken(t, s, "9f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b", secretForm(appA, secretA, mdeScope)).status,
		postToken(t, s, tenantA, secretForm(appA, "wrong", mdeScope)).status,
		postToken(t, s, tenantA, secretForm(appA, secretA, mdeScope)).status,
		postToken(t, s, tenantA, secretForm(appA, secretA, mdeScope)).status,
	}
	if want := []int{503, 503, 429, 200}; !reflect.DeepEqual(statuses, want) {
		t.Errorf("statuses %v, want %v", statuses, want)
	}
	want := []TokenRequest{
		{TenantID: "9f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b", ClientID: appA, Status: 503, Code: 90033},
		{TenantID: tenantA, ClientID: appA, Status: 503, Code: 90033},
		{TenantID: tenantA, ClientID: appA, Status: 429, Code: 90055},
		{TenantID: tenantA, ClientID: appA, Resource: mde, Credential: "secret", Status: 200},
	}
	if got := s.TokenLog(); !reflect.DeepEqual(got, want) {
		t.Errorf("TokenLog\n got %+v\nwant %+v", got, want)
	}
}

func TestFaultDrop(t *testing.T) {
	f := newFixture(t, Options{})
	s := f.s
	http1 := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: s.CertPool()},
		// A non-nil, empty TLSNextProto keeps the transport on HTTP/1.1.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}}
	t.Cleanup(http1.CloseIdleConnections)
	clients := map[string]*http.Client{"HTTP/2 (Client)": s.Client(), "HTTP/1.1": http1}
	for name, c := range clients {
		t.Run(name, func(t *testing.T) {
			s.FailTokenRequests(1, Fault{Drop: true})
			resp, err := c.PostForm(s.URL()+"/"+tenantA+"/oauth2/v2.0/token", secretForm(appA, secretA, mdeScope))
			if err == nil {
				resp.Body.Close()
				t.Fatalf("the dropped request got an answer: %d", resp.StatusCode)
			}
			var netErr interface{ Timeout() bool }
			if errors.As(err, &netErr) && netErr.Timeout() {
				t.Errorf("a drop looks like a timeout: %v", err)
			}
			// The next request goes through on the same client.
			resp, err = c.PostForm(s.URL()+"/"+tenantA+"/oauth2/v2.0/token", secretForm(appA, secretA, mdeScope))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("after the drop: %d", resp.StatusCode)
			}
		})
	}
	log := s.TokenLog()
	if len(log) != 4 || log[0].Status != 0 || log[2].Status != 0 || s.TokenRequests() != 4 {
		t.Errorf("TokenRequests %d, TokenLog %+v", s.TokenRequests(), log)
	}
}

func TestConcurrentTokenRequests(t *testing.T) {
	f := newFixture(t, Options{})
	s := f.s
	const n, failing = 10, 3
	s.FailTokenRequests(failing, Fault{Status: 503})
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			resp, err := s.Client().PostForm(s.URL()+"/"+tenantA+"/oauth2/v2.0/token", secretForm(appA, secretA, mdeScope))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for st := range statuses {
		count[st]++
	}
	if count[http.StatusOK] != n-failing || count[http.StatusServiceUnavailable] != failing {
		t.Errorf("statuses %v, want %d × 200 and %d × 503", count, n-failing, failing)
	}
	if got := s.TokenRequests(); got != n {
		t.Errorf("TokenRequests = %d, want %d", got, n)
	}
	if got := len(s.TokenLog()); got != n {
		t.Errorf("len(TokenLog) = %d, want %d", got, n)
	}
}

func TestTokenLogIsACopy(t *testing.T) {
	f := newFixture(t, Options{})
	postToken(t, f.s, tenantA, secretForm(appA, secretA, mdeScope))
	log := f.s.TokenLog()
	log[0].ClientID = "changed"
	if got := f.s.TokenLog()[0].ClientID; !strings.EqualFold(got, appA) {
		t.Errorf("TokenLog shares memory with the server: %q", got)
	}
}

func TestHangEndsWhenTheClientGivesUp(t *testing.T) {
	f := newFixture(t, Options{})
	f.s.FailTokenRequests(1, Fault{Status: 503, Hang: time.Minute})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.s.URL()+"/"+tenantA+"/oauth2/v2.0/token", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Client().Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a hung request ended with %v, want the client's deadline", err)
	}
}
