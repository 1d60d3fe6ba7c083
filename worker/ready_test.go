package worker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/testutil"
	"github.com/alertexport/alertexport/sources/httpclient"
)

type fixedToken struct{}

func (fixedToken) Token(context.Context, string) (string, error) { return "t", nil }
func (fixedToken) Invalidate(string, string)                     {}

// TestReadyzGivesAShortReasonPerJob: with one job panicking and another refused by its API
// with a large body, /readyz lists both, one short line each (key, since when, the panic's
// message or the API's status and code) — never the stack, the body or the fix, which stay in
// the log.
func TestReadyzGivesAShortReasonPerJob(t *testing.T) {
	t.Parallel()
	sink, kv, _ := setupJS(t)
	body := fmt.Sprintf(`{"error":{"code":"InvalidRequest","message":"%s"}}`, strings.Repeat("body-text ", 6000))
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, body) //nolint:errcheck // the test sees the outcome
	}))
	t.Cleanup(api.Close)
	client := &httpclient.API{Name: "graph", Tenant: "contoso", HTTP: api.Client(), Tokens: fixedToken{},
		Retry: httpclient.Retry{MaxTries: 1, Initial: time.Millisecond, Max: time.Millisecond, MaxElapsed: time.Second}}
	refused := &script{hook: func(ctx context.Context, _ int32) error {
		err := client.Get(ctx, api.URL+"/v1.0/security/alerts_v2", func(io.Reader) error { return nil })
		return fmt.Errorf("graph: listing alerts: %w", err)
	}}
	panicking := &script{hook: func(context.Context, int32) error { panic("a bug in a source") }}

	var now atomic.Pointer[time.Time]
	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	now.Store(&start)
	logs := &testutil.SyncBuffer{}
	w, err := New(Options{Jobs: []Job{
		{Tenant: "contoso", Source: "endpoint", Schedule: every(t, "@every 1m"), Poller: panicking},
		{Tenant: "contoso", Source: "graph", Schedule: every(t, "@every 1m"), Poller: refused},
	}, Sink: sink, Store: kv, Logger: slog.New(slog.NewTextHandler(logs, nil)), Now: func() time.Time { return *now.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range w.jobs {
		w.poll(context.Background(), j)
	}
	later := start.Add(4 * time.Minute)
	now.Store(&later)

	rec := httptest.NewRecorder()
	w.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	got := rec.Body.String()
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d %q, want 503", rec.Code, got)
	}
	want := "contoso.endpoint has been failing since 2026-11-23T09:00:00Z: panic: a bug in a source\n" +
		"contoso.graph has been failing since 2026-11-23T09:00:00Z: graph API: HTTP 400 InvalidRequest\n"
	if got != want {
		t.Errorf("/readyz body:\n%s\nwant:\n%s", got, want)
	}
	// The full errors are in the log.
	for _, s := range []string{"goroutine ", "body-text body-text"} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("the log lacks %q", s)
		}
	}
}

func TestShortReason(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"first line only", fmt.Errorf("panic: boom\ngoroutine 7 [running]:\nmain.f()"), "panic: boom"},
		{"cut to 200 characters", fmt.Errorf("%s", strings.Repeat("é", 300)), strings.Repeat("é", 199) + "…"},
		{"control characters replaced", fmt.Errorf("bad\x1b]52;c;ZXZpbA==\x07 title"), "bad\uFFFD]52;c;ZXZpbA==\uFFFD title"},
		{"no answer from the API", fmt.Errorf("poll: %w", &httpclient.Error{API: "endpoint", Message: "dial tcp: connection refused", Fix: "long fix"}), "endpoint API: no answer: dial tcp: connection refused"},
		{"API status without a code", &httpclient.Error{API: "cloudapps", Status: 503, Excerpt: "<html>…"}, "cloudapps API: HTTP 503"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := shortReason(tt.err); got != tt.want {
				t.Errorf("shortReason = %q, want %q", got, tt.want)
			}
		})
	}
}
