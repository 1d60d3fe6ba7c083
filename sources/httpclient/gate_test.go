package httpclient

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestGateStopsTheNextRequest: a call whose context carries a gate sends no request once the
// gate is shut (the worker's lease lost while the call waited for a retry, the limiter or a
// frozen process), and ends with the gate's error at once instead of retrying.
func TestGateStopsTheNextRequest(t *testing.T) {
	t.Parallel()
	var requests atomic.Int32
	lost := errors.New("lost the lease")
	var open atomic.Bool
	open.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		open.Store(false) // the lease is lost while this answer is on its way
		http.Error(w, `{"error":{"code":"InternalServerError"}}`, http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	api := &API{Name: "endpoint", Tenant: "contoso", HTTP: srv.Client(), Tokens: staticToken{},
		Retry: Retry{MaxTries: 5, Initial: time.Millisecond, Max: time.Millisecond, MaxElapsed: 10 * time.Second}}
	ctx := WithGate(t.Context(), func() error {
		if !open.Load() {
			return lost
		}
		return nil
	})
	err := api.Get(ctx, srv.URL+"/api/alerts", func(io.Reader) error { return nil })
	if !errors.Is(err, lost) {
		t.Errorf("err = %v, want the gate's", err)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1: the retry after the 500 went out through a shut gate", n)
	}
}
