// Package httpclient builds the HTTP client that every call to Microsoft (Entra ID and the
// Defender APIs) goes through: the system roots plus the operator's extra CA file, the
// environment's proxy, TLS 1.2 or later, and timeouts on each phase rather than on the whole
// request (a large page may stream for a while; contexts bound the rest).
package httpclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"
)

// Options configures New.
type Options struct {
	// CAFile is a PEM file of extra CA certificates (a TLS-intercepting proxy, the simulator).
	// The system roots stay trusted. Verification is never turned off.
	CAFile string
}

// New returns a client for Microsoft's endpoints.
func New(o Options) (*http.Client, error) {
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool() // e.g. a scratch image without CA bundle: only ca_file is trusted
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %q: %w", o.CAFile, errNoCerts)
		}
	}
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return nil, errors.New("http.DefaultTransport is not an *http.Transport")
	}
	t = t.Clone() // keeps ProxyFromEnvironment (HTTPS_PROXY, NO_PROXY) and the dialer's timeouts
	t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	t.TLSHandshakeTimeout = 15 * time.Second
	t.ResponseHeaderTimeout = 2 * time.Minute // Defender can take long to start a 10,000-alert page
	t.MaxIdleConnsPerHost = 8
	// HTTP/2 lets a server send this far ahead of what is read; Go's default, 4 MiB a stream,
	// sits in memory whenever the API sends faster than alerts are decoded. 2 MiB still allows
	// 20 MB/s (≈ 5,000 alerts/s) a poll at 100 ms round trip, more than one poll decodes.
	t.HTTP2 = &http.HTTP2Config{MaxReceiveBufferPerStream: 2 << 20}
	return &http.Client{Transport: t, CheckRedirect: refuseRedirect}, nil
}

// RedirectError is a redirect the client refused to follow. Entra ID's token endpoint and the
// alert APIs answer directly; following a redirect would carry the bearer token (or, on a 307
// from the token endpoint, the client secret) to wherever it points.
type RedirectError struct {
	Status int    // 301, 302, 303, 307 or 308
	To     string // scheme://host/path of the target: never its query, which may hold anything
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("HTTP %d redirect to %s, not followed (it would carry the token or secret there)", e.Status, e.To)
}

func refuseRedirect(req *http.Request, _ []*http.Request) error {
	e := &RedirectError{To: req.URL.Scheme + "://" + req.URL.Host + req.URL.EscapedPath()}
	if req.Response != nil {
		e.Status = req.Response.StatusCode
	}
	return e
}

var errNoCerts = errors.New("no PEM certificate could be parsed")
