package httpclient

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alertexport/alertexport/sources/page"
	"github.com/alertexport/alertexport/sources/page/pagetest"
)

// serve answers every request with a fresh body made of parts, counting the requests.
func serve(t *testing.T, parts func() []pagetest.Part) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(pagetest.Handler(parts, &n))
	t.Cleanup(srv.Close)
	return srv, &n
}

func bodyAPI(srv *httptest.Server, maxBody int64) *API {
	return &API{Name: "endpoint", Tenant: "contoso", HTTP: srv.Client(), Tokens: staticToken{}, MaxBody: maxBody,
		Retry: Retry{MaxTries: 4, Initial: time.Millisecond, Max: time.Millisecond, MaxElapsed: 10 * time.Second}}
}

// readPage reads a body as a source does: a page, whose failures are BodyErrors.
func readPage(items *int, opts ...page.Option) func(io.Reader) error {
	return func(r io.Reader) error {
		*items = 0
		_, err := page.Decode(r, "value", func(_ []byte, err error) error {
			*items++
			return err
		}, opts...)
		if err != nil {
			return &BodyError{Err: err}
		}
		return nil
	}
}

// TestOversizedPageBody: an answer that goes on past the cap on a page's body (here one that
// would never end) fails the call at the cap, at once and for good: the same request would get
// the same answer. The message names the cap; the alerts before it were read.
func TestOversizedPageBody(t *testing.T) {
	t.Parallel()
	srv, requests := serve(t, func() []pagetest.Part {
		return []pagetest.Part{pagetest.Text(`{"value":[{"id":"a"},{"id":"b"},` + strings.Repeat(" ", 1<<20)), pagetest.Fill(' ', 1<<40)}
	})
	var items int
	err := bodyAPI(srv, 1<<20).Get(t.Context(), srv.URL+"/api/alerts", readPage(&items))
	var e *Error
	var big *BodyTooLargeError
	if !errors.As(err, &e) || !errors.As(err, &big) || big.Limit != 1<<20 || e.Status != http.StatusOK {
		t.Fatalf("err = %v, want the body over its cap", err)
	}
	if !strings.Contains(err.Error(), "over 1048576 bytes, the cap on one page's body") {
		t.Errorf("the message does not name the cap: %v", err)
	}
	if !errors.Is(err, page.ErrTooLarge) {
		t.Error("the error is not page.ErrTooLarge")
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests: a body over the cap was retried", n)
	}
	if items != 2 {
		t.Errorf("%d alerts read before the cap, want 2", items)
	}
}

// TestPageBodyAtTheCap: a body of exactly the cap is read whole; one byte more is over it.
func TestPageBodyAtTheCap(t *testing.T) {
	t.Parallel()
	const body = `{"value":[{"id":"a"}]}`
	srv, _ := serve(t, func() []pagetest.Part { return []pagetest.Part{pagetest.Text(body)} })
	var items int
	if err := bodyAPI(srv, int64(len(body))).Get(t.Context(), srv.URL, readPage(&items)); err != nil || items != 1 {
		t.Errorf("a body at the cap: %d alerts, %v", items, err)
	}
	var big *BodyTooLargeError
	if err := bodyAPI(srv, int64(len(body))-1).Get(t.Context(), srv.URL, readPage(&items)); !errors.As(err, &big) {
		t.Errorf("a body one byte over the cap: %v", err)
	}
}

// TestOversizedNeededFieldIsNotRetried: a page whose nextLink is over the cap on the fields
// fails the call at once, naming it, though the source reports it as a broken body (which is
// retried): asking again brings the same answer.
func TestOversizedNeededFieldIsNotRetried(t *testing.T) {
	t.Parallel()
	srv, requests := serve(t, func() []pagetest.Part {
		return []pagetest.Part{pagetest.Text(`{"value":[],"@odata.nextLink":"`), pagetest.Fill('n', 1<<20), pagetest.Text(`"}`)}
	})
	var items int
	err := bodyAPI(srv, 0).Get(t.Context(), srv.URL, readPage(&items, page.Need("@odata.nextLink")))
	var fe *page.FieldTooLargeError
	if !errors.As(err, &fe) || fe.Field != "@odata.nextLink" {
		t.Fatalf("err = %v, want the nextLink too large", err)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}
