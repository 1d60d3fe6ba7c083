package sim

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/alertexport/alertexport/internal/sim/cloudapps"
	"github.com/alertexport/alertexport/internal/sim/endpoint"
	"github.com/alertexport/alertexport/internal/sim/entra"
	"github.com/alertexport/alertexport/internal/sim/graph"
	"github.com/alertexport/alertexport/internal/sim/simapi"
)

// defaultTokenLifetime is the expires_in Entra documents for app tokens
// ("expires_in":3599 in the Defender "create app" guides).
const defaultTokenLifetime = 3599 * time.Second

// shutdownTimeout bounds how long Close waits for in-flight requests.
const shutdownTimeout = time.Second

// Options configures a simulator.
type Options struct {
	// Logger receives one line per request. nil discards. Secrets, client
	// assertions and tokens are never logged.
	Logger *slog.Logger
	// TokenLifetime is the expires_in of issued access tokens; 0 means 3599s,
	// Entra's documented value. MSAL Go never caches a token whose lifetime is
	// 300s or less, so short lifetimes make every call reach the simulator.
	TokenLifetime time.Duration
	// Now is the clock used to issue tokens and to validate client assertions
	// and access tokens; nil means time.Now. MSAL signs certificate assertions
	// with the real clock, so keep this within 5 minutes of it when a real
	// MSAL client is involved (as Entra would refuse a skewed client too).
	// TLS certificates always use the real clock.
	Now func() time.Time
	// Seed seeds the generators of simulated data (Defender alerts); each
	// tenant's generator is seeded from it and the tenant ID. 0 means a
	// fixed default, so runs are reproducible either way.
	Seed int64
	// RateLimits chooses the rate limits of the APIs by name (APIEndpoint,
	// APICloudApps, APIGraph, APIIncidents): Documented, NoRateLimits or LimitTo. An API
	// not in the map has the limits Microsoft documents for it.
	RateLimits map[string]simapi.RateLimits
	// CloudAppsRetryAfter makes the Defender for Cloud Apps API send
	// Retry-After with the 429 answers of its rate limit (and of random
	// throttle faults). Microsoft does not document the header, so the
	// default is the inconvenient case: no Retry-After, only a body saying
	// the request was throttled.
	CloudAppsRetryAfter bool
}

// Server is a running simulator. Create it with Start and stop it with Close.
type Server struct {
	logger   *slog.Logger
	now      func() time.Time
	lifetime time.Duration

	url       string
	httpSrv   *http.Server
	mux       *http.ServeMux
	caPEM     []byte
	pool      *x509.CertPool
	transport *http.Transport
	served    chan struct{} // closed when the Serve goroutine returns

	// Entra ID (internal/sim/entra): the directory, tokens, token faults and
	// their log; embedded, so that AddTenant, Grant and the rest are the server's.
	*entra.Service

	mu   sync.Mutex                 // guards date
	date func(now time.Time) string // SetDateHeader; nil = the clock's time

	host      simapi.Host         // what the API parts share of the server
	parts     []simapi.API        // every API part (newParts), the fields below among them
	endpoint  *endpoint.API       // the Defender for Endpoint alerts API (package endpoint)
	cloudApps *cloudapps.API      // the Defender for Cloud Apps alerts API (package cloudapps)
	graph     *graph.API          // Microsoft Graph's alerts_v2 (package graph)
	incidents *graph.IncidentsAPI // Microsoft Graph's security incidents (package graph)
	limits    *limitTable         // the APIs' rate limits, by name
	apiLog    apiLog

	closeOnce sync.Once
	closeErr  error
}

// Start generates a CA, a server certificate and a token-signing key, and
// serves HTTPS on 127.0.0.1 with a random port until Close is called.
func Start(opts Options) (*Server, error) {
	if opts.TokenLifetime < 0 || (opts.TokenLifetime > 0 && opts.TokenLifetime < time.Second) {
		return nil, fmt.Errorf("simulator: token lifetime %v: must be 0 or at least 1s", opts.TokenLifetime)
	}
	s := &Server{
		logger:   opts.Logger,
		now:      opts.Now,
		lifetime: opts.TokenLifetime,
		mux:      http.NewServeMux(),
		served:   make(chan struct{}),
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.lifetime == 0 {
		s.lifetime = defaultTokenLifetime
	}

	caCert, caKey, err := newCA()
	if err != nil {
		return nil, err
	}
	leaf, err := newLeaf(caCert, caKey)
	if err != nil {
		return nil, err
	}
	s.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caCert.Raw})
	s.pool = x509.NewCertPool()
	s.pool.AddCert(caCert)

	transport, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return nil, errors.New("simulator: http.DefaultTransport is not an *http.Transport")
	}
	s.transport = transport.Clone()
	s.transport.TLSClientConfig = &tls.Config{RootCAs: s.pool, MinVersion: tls.VersionTLS12}
	s.transport.Proxy = nil // loopback only; never let an environment proxy in

	seed := opts.Seed
	if seed == 0 {
		seed = defaultSeed
	}
	var salt [8]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("simulator: listen: %w", err)
	}
	s.url = "https://" + ln.Addr().String()
	// The parts know the server's URL: Entra's metadata and the APIs'
	// nextLinks name it.
	if s.Service, err = entra.New(s.logger, s.now, s.lifetime, s.url); err != nil {
		_ = ln.Close()
		return nil, err
	}
	s.host = simapi.Host{
		URL:    s.url,
		Logger: s.logger,
		Now:    s.now,
		Env:    simapi.Env{Limits: s.rateLimits, Record: s.logAPIRequest},
		Seed:   seed,
		Salt:   binary.LittleEndian.Uint64(salt[:]),
	}
	s.newParts(opts)
	if s.limits, err = newLimitTable(s.parts, opts.RateLimits); err != nil {
		_ = ln.Close()
		return nil, err
	}
	s.Service.Routes(s.mux)
	for _, p := range s.parts {
		p.Routes(s.mux)
	}

	s.httpSrv = &http.Server{
		Handler:           http.HandlerFunc(s.serve),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{leaf}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		// TLS handshake failures (a client that does not trust the CA) are
		// expected in tests; keep them out of stderr.
		ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
	go func() {
		defer close(s.served)
		// ServeTLS (rather than a tls.Listener) so net/http negotiates
		// HTTP/2 as well as HTTP/1.1 via ALPN, like login.microsoftonline.com.
		if err := s.httpSrv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("simulator: serve", "err", err)
		}
	}()
	s.logger.Info("simulator started", "url", s.url)
	return s, nil
}

// URL is the base URL, "https://127.0.0.1:PORT", without a trailing slash.
func (s *Server) URL() string { return s.url }

// CACertPEM returns the PEM-encoded CA certificate, for a client's ca_file.
func (s *Server) CACertPEM() []byte { return bytes.Clone(s.caPEM) }

// WriteCAFile writes the CA in PEM form to path, for a config's ca_file.
func (s *Server) WriteCAFile(path string) error { return os.WriteFile(path, s.caPEM, 0o644) }

// CertPool returns a pool that contains only the simulator's CA.
func (s *Server) CertPool() *x509.CertPool { return s.pool.Clone() }

// Client returns an HTTP client that trusts only the simulator's CA. Clients
// share one transport, whose idle connections Close shuts.
func (s *Server) Client() *http.Client { return &http.Client{Transport: s.transport} }

// Handle registers a handler on the simulator's mux, with Go 1.22 pattern
// syntax, for the API parts of the simulator. Like http.ServeMux.Handle it
// panics if the pattern is invalid or conflicts with a registered one.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// serve dispatches to the mux, answering unknown paths and wrong methods
// with an Entra-shaped JSON error instead of net/http's plain text. (A
// catch-all "/" route would do for 404s, but it would also swallow the 405s
// of routes registered later with Handle.)
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.setDate(w.Header())
	if _, pattern := s.mux.Handler(r); pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	// No route: let the mux decide between 404 and 405 (it knows the
	// methods registered for the path) and keep only that decision.
	rec := &decisionRecorder{header: http.Header{}}
	s.mux.ServeHTTP(rec, r)
	if rec.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", rec.header.Get("Allow"))
		s.WriteMethodNotAllowed(w, r, rec.header.Get("Allow"))
		return
	}
	s.WriteNotFound(w, r)
	s.logger.Debug("no route", "method", r.Method, "path", r.URL.Path)
}

// setDate stamps an answer with the service's clock, as Microsoft's services do (RFC 9110
// §6.6.1), not with the machine's, which tests move away from — or with what SetDateHeader
// asks for.
func (s *Server) setDate(h http.Header) {
	now := s.now()
	s.mu.Lock()
	f := s.date
	s.mu.Unlock()
	d := now.UTC().Format(http.TimeFormat)
	if f != nil {
		d = f(now)
	}
	if d == "" {
		h["Date"] = nil // net/http then sends none
		return
	}
	h.Set("Date", d)
}

// SetDateHeader injects a wrong or missing Date header: every answer (token endpoint and APIs)
// carries f(the service's clock) as its Date, or none when f returns "". nil restores the
// clock's time.
func (s *Server) SetDateHeader(f func(now time.Time) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.date = f
}

// decisionRecorder captures the status and headers the mux would send.
type decisionRecorder struct {
	header http.Header
	status int
}

func (d *decisionRecorder) Header() http.Header         { return d.header }
func (d *decisionRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (d *decisionRecorder) WriteHeader(status int) {
	if d.status == 0 {
		d.status = status
	}
}

// Close shuts the server down gracefully, waiting up to a second for
// in-flight requests. It is idempotent and returns the first call's result.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	return s.Shutdown(ctx)
}

// Shutdown is Close with a caller-chosen deadline: when ctx ends before the
// in-flight requests do, the remaining connections are closed abruptly.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() {
		// Hang up the simulator's own idle client connections first: an
		// HTTP/2 server otherwise waits up to a second after its GOAWAY for
		// the client to close.
		s.transport.CloseIdleConnections()
		err := s.httpSrv.Shutdown(ctx)
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			// Connections still open: a client that connected and never sent a request counts
			// as busy for 5 s in net/http. A simulator owes nobody a drain; close them.
			err = s.httpSrv.Close()
		}
		if err != nil {
			err = fmt.Errorf("simulator: shutdown: %w", err)
		}
		<-s.served
		s.transport.CloseIdleConnections()
		s.closeErr = err
		s.logger.Info("simulator stopped", "url", s.url)
	})
	return s.closeErr
}

// newCA creates a self-signed ECDSA P-256 CA valid for a day.
func newCA() (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("simulator: CA key: %w", err)
	}
	serial, err := simapi.RandomSerial()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Defender simulator CA", Organization: []string{"alertexport"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("simulator: CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("simulator: CA certificate: %w", err)
	}
	return cert, key, nil
}

// newLeaf issues the server certificate for 127.0.0.1, ::1 and localhost.
func newLeaf(ca *x509.Certificate, caKey *ecdsa.PrivateKey) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("simulator: server key: %w", err)
	}
	serial, err := simapi.RandomSerial()
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("simulator: server certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Raw}, PrivateKey: key}, nil
}

// defaultSeed is used when Options.Seed is 0, so runs are reproducible.
const defaultSeed = 0x5eed_a1e7

// newParts builds the simulated APIs. A new API is one package under
// internal/sim implementing simapi.API, and one line here.
func (s *Server) newParts(opts Options) {
	s.endpoint = endpoint.New(s.host, s.Service)
	s.cloudApps = cloudapps.New(s.host, s.Service, opts.CloudAppsRetryAfter)
	s.graph = graph.New(s.host, s.Service, s.endpoint, s.cloudApps)
	s.incidents = graph.NewIncidents(s.host, s.graph)
	s.parts = []simapi.API{s.endpoint, s.cloudApps, s.graph, s.incidents}
}
