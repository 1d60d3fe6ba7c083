package httpclient

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/sim"
)

func TestCAFileIsTrustedBesideSystemRoots(t *testing.T) {
	t.Parallel()
	srv, err := sim.Start(sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := srv.WriteCAFile(ca); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(notPEM, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}

	without, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(without.CloseIdleConnections)
	if _, err := without.Get(srv.URL()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without ca_file the simulator was trusted: %v", err)
	}
	with, err := New(Options{CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(with.CloseIdleConnections)
	resp, err := with.Get(srv.URL() + "/nowhere")
	if err != nil {
		t.Fatalf("with ca_file: %v", err)
	}
	resp.Body.Close()

	if _, err := New(Options{CAFile: notPEM}); !errors.Is(err, errNoCerts) {
		t.Errorf("a file without certificates: %v", err)
	}
	if _, err := New(Options{CAFile: filepath.Join(dir, "missing.pem")}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
}

// TestAPIRedirectIsNotFollowed: an API call answered with a redirect fails at once, without
// retries, naming the target without its query, and the target never sees the token.
func TestAPIRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	srv, err := sim.Start(sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := srv.WriteCAFile(ca); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var asked, reached int
	var auth []string
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect} {
		srv.Handle(fmt.Sprintf("GET /moved%d/api/alerts", status), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			asked++
			mu.Unlock()
			http.Redirect(w, r, "/elsewhere/api/alerts?sig=query-secret", status)
		}))
	}
	srv.Handle("GET /elsewhere/api/alerts", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reached++
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
	}))
	hc, err := New(Options{CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hc.CloseIdleConnections)
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			mu.Lock()
			asked = 0
			mu.Unlock()
			a := &API{Name: "endpoint", Tenant: "contoso", HTTP: hc, Tokens: staticToken{},
				Retry: Retry{MaxTries: 3, Initial: time.Millisecond, Max: time.Millisecond, MaxElapsed: 10 * time.Second}}
			err := a.Get(t.Context(), fmt.Sprintf("%s/moved%d/api/alerts?$filter=x", srv.URL(), status), func(io.Reader) error { return nil })
			var e *Error
			var re *RedirectError
			if !errors.As(err, &e) || !errors.As(err, &re) || re.Status != status {
				t.Fatalf("got %v, want an *Error wrapping a *RedirectError with status %d", err, status)
			}
			msg := err.Error()
			for _, want := range []string{
				fmt.Sprintf("HTTP %d redirect to %s/elsewhere/api/alerts, not followed", status, srv.URL()),
				"fix: the API answers directly, so something else did: check api_url",
			} {
				if !strings.Contains(msg, want) {
					t.Errorf("message lacks %q:\n%s", want, msg)
				}
			}
			if strings.Contains(msg, "query-secret") || strings.Contains(msg, "Bearer") {
				t.Errorf("message shows the query or the token:\n%s", msg)
			}
			mu.Lock()
			defer mu.Unlock()
			if asked != 1 {
				t.Errorf("asked %d times, want once (a redirect is not retried)", asked)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if reached != 0 {
		t.Errorf("the redirect target was reached %d times (Authorization %q)", reached, auth)
	}
}
