package worker

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestHealthFailsWhenNATSIsClosedForGood: /healthz is 200 while the NATS connection lives,
// even disconnected (it comes back by itself), and 503 with the reason once it is closed for
// good, when only a restart helps; /readyz too.
func TestHealthFailsWhenNATSIsClosedForGood(t *testing.T) {
	t.Parallel()
	sink, kv, _ := setupJS(t)
	var connected atomic.Bool
	var closed atomic.Pointer[error]
	w, err := New(Options{Jobs: []Job{{Tenant: "contoso", Source: "endpoint", Schedule: every(t, "@every 1m"), Poller: &script{}}},
		Sink: sink, Store: kv, Connected: connected.Load, Closed: func() error {
			if e := closed.Load(); e != nil {
				return *e
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		w.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := get("/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz while disconnected = %d %q, want 200 ok", code, body)
	}
	why := errors.New("the NATS connection is closed for good (nats: maximum control line exceeded)")
	closed.Store(&why)
	connected.Store(false)
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := get(path); code != http.StatusServiceUnavailable || !strings.Contains(body, "maximum control line exceeded") {
			t.Errorf("%s once closed for good = %d %q, want 503 with the reason", path, code, body)
		}
	}
}
