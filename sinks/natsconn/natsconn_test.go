package natsconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/alertexport/alertexport/config"
	"github.com/alertexport/alertexport/internal/testutil"
)

const (
	testToken    = "tok-3f9a-s3cret"
	testPassword = "pw-77c1-s3cret"
)

func env(vars map[string]string) config.LookupEnv {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

// TestConnectAuth connects with each auth method of the config to a server that demands it.
func TestConnectAuth(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	for _, tc := range []struct {
		name   string
		scheme string
		setup  func(t *testing.T, o *server.Options, c *config.NATS) // the server's auth, and cfg's
	}{
		{name: "no auth"},
		{
			name: "token from token_env",
			setup: func(t *testing.T, o *server.Options, c *config.NATS) {
				o.Authorization, c.TokenEnv = testToken, "NATS_TOKEN"
			},
		},
		{
			name: "user and password_env",
			setup: func(t *testing.T, o *server.Options, c *config.NATS) {
				o.Username, o.Password = "alertexport", testPassword
				c.User, c.PasswordEnv = "alertexport", "NATS_PASSWORD"
			},
		},
		{
			name: "nkey_seed_file",
			setup: func(t *testing.T, o *server.Options, c *config.NATS) {
				kp, _ := nkeys.CreateUser()
				pub, _ := kp.PublicKey()
				seed, _ := kp.Seed()
				o.Nkeys = []*server.NkeyUser{{Nkey: pub}}
				c.NkeySeedFile = writeFile(t, "user.nk", string(seed)+"\n")
			},
		},
		{
			name: "creds_file (operator mode)",
			setup: func(t *testing.T, o *server.Options, c *config.NATS) {
				c.CredsFile = writeFile(t, "user.creds", string(operatorMode(t, o)))
			},
		},
		{
			name:   "TLS with ca_file",
			scheme: "tls",
			setup: func(t *testing.T, o *server.Options, c *config.NATS) {
				o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12}
				c.CAFile = p.caFile
			},
		},
		{
			name:   "mutual TLS with cert_file and key_file",
			scheme: "tls",
			setup: func(t *testing.T, o *server.Options, c *config.NATS) {
				o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12,
					ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.pool}
				o.TLSVerify = true
				c.CAFile, c.CertFile, c.KeyFile = p.caFile, p.clientCert, p.clientKey
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var cfg config.NATS
			s := startServer(t, server.RANDOM_PORT, func(o *server.Options) {
				if tc.setup != nil {
					tc.setup(t, o, &cfg)
				}
			})
			cfg.URL = s.ClientURL()
			if tc.scheme != "" {
				cfg.URL = strings.Replace(cfg.URL, "nats://", tc.scheme+"://", 1)
			}
			status := &statusLog{}
			nc, err := Connect(testutil.Context(t, 10*time.Second), cfg,
				env(map[string]string{"NATS_TOKEN": testToken, "NATS_PASSWORD": testPassword}),
				Options{OnStatus: status.on})
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if err := nc.Flush(); err != nil {
				t.Fatalf("round trip: %v", err)
			}
			if nc.Opts.Name != "alertexport" || nc.Opts.MaxReconnect != -1 || !nc.Opts.RetryOnFailedConnect {
				t.Errorf("name %q, MaxReconnect %d, RetryOnFailedConnect %v; want alertexport, -1, true",
					nc.Opts.Name, nc.Opts.MaxReconnect, nc.Opts.RetryOnFailedConnect)
			}
			testutil.WaitFor(t, "OnStatus(true)", func() bool { c, ok := status.last(); return ok && c })
		})
	}
}

// TestConnectConfigErrors: a missing variable or unreadable file is an error naming the key,
// before any connection attempt.
func TestConnectConfigErrors(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	garbage := writeFile(t, "garbage", "not a key\n")
	ukp, _ := nkeys.CreateUser()
	useed, _ := ukp.Seed()
	seedOnly := writeFile(t, "seed-only.creds", string(useed)+"\n")
	empty := writeFile(t, "empty", "\n")
	for _, tc := range []struct {
		name string
		cfg  config.NATS
		env  map[string]string
		want []string
	}{
		{"no url", config.NATS{}, nil, []string{"nats.url is empty"}},
		{"token_env unset", config.NATS{TokenEnv: "NATS_TOKEN"}, nil, []string{"nats.token_env", "NATS_TOKEN is not set"}},
		{"token_env empty", config.NATS{TokenEnv: "NATS_TOKEN"}, map[string]string{"NATS_TOKEN": " "}, []string{"nats.token_env", "NATS_TOKEN is empty"}},
		{"password_env unset", config.NATS{User: "u", PasswordEnv: "NATS_PW"}, nil, []string{"nats.password_env", "NATS_PW is not set", "user u"}},
		{"user without password_env", config.NATS{User: "u"}, nil, []string{"nats.user", "needs nats.password_env"}},
		{"creds_file missing", config.NATS{CredsFile: "/nonexistent/user.creds"}, nil, []string{`nats.creds_file "/nonexistent/user.creds" cannot be read`, "no such file"}},
		{"creds_file empty", config.NATS{CredsFile: empty}, nil, []string{"nats.creds_file", "is empty"}},
		{"creds_file not creds", config.NATS{CredsFile: garbage}, nil, []string{"nats.creds_file", "holds no user seed"}},
		{"creds_file without a JWT", config.NATS{CredsFile: seedOnly}, nil, []string{"nats.creds_file", "holds no user JWT"}},
		{"nkey_seed_file missing", config.NATS{NkeySeedFile: "/nonexistent/user.nk"}, nil, []string{`nats.nkey_seed_file "/nonexistent/user.nk" cannot be read`}},
		{"nkey_seed_file not a seed", config.NATS{NkeySeedFile: garbage}, nil, []string{"nats.nkey_seed_file", "user seed"}},
		{"ca_file missing", config.NATS{CAFile: "/nonexistent/ca.pem"}, nil, []string{`nats.ca_file "/nonexistent/ca.pem" cannot be read`}},
		{"ca_file not PEM", config.NATS{CAFile: garbage}, nil, []string{"nats.ca_file", "holds no PEM certificate"}},
		{"cert_file without key_file", config.NATS{CertFile: p.clientCert}, nil, []string{"nats.cert_file and nats.key_file go together"}},
		{"key_file missing", config.NATS{CertFile: p.clientCert, KeyFile: "/nonexistent/key.pem"}, nil, []string{`nats.key_file "/nonexistent/key.pem" cannot be read`}},
		{"cert and key mismatch", config.NATS{CertFile: p.clientCert, KeyFile: p.serverKey}, nil, []string{"nats.cert_file", "nats.key_file", "are not a certificate and its key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := tc.cfg
			if tc.name != "no url" {
				cfg.URL = "nats://127.0.0.1:1"
			}
			nc, err := Connect(testutil.Context(t, 5*time.Second), cfg, env(tc.env), Options{})
			if err == nil {
				nc.Close()
				t.Fatal("Connect succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
}

// TestConnectRefused: credentials or certificates the server refuses end Connect at once,
// with the fix, and no secret reaches the logs or the error.
func TestConnectRefused(t *testing.T) {
	t.Parallel()
	p, other := newPKI(t), newPKI(t)
	for _, tc := range []struct {
		name   string
		scheme string
		server func(o *server.Options)
		cfg    config.NATS
		want   []string
	}{
		{
			name:   "wrong token",
			server: func(o *server.Options) { o.Authorization = "another-token" },
			cfg:    config.NATS{TokenEnv: "NATS_TOKEN"},
			want:   []string{"authorization violation", "the server refused"},
		},
		{
			name:   "wrong password",
			server: func(o *server.Options) { o.Username, o.Password = "alertexport", "another-password" },
			cfg:    config.NATS{User: "alertexport", PasswordEnv: "NATS_PASSWORD"},
			want:   []string{"authorization violation", "the server refused"},
		},
		{
			name:   "server certificate from another CA",
			scheme: "tls",
			server: func(o *server.Options) {
				o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12}
			},
			cfg:  config.NATS{CAFile: other.caFile},
			want: []string{"certificate", "set nats.ca_file"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, server.RANDOM_PORT, tc.server)
			cfg := tc.cfg
			cfg.URL = s.ClientURL()
			if tc.scheme != "" {
				cfg.URL = strings.Replace(cfg.URL, "nats://", tc.scheme+"://", 1)
			}
			logs := &testutil.LogRecorder{}
			ctx := testutil.Context(t, 10*time.Second)
			nc, err := Connect(ctx, cfg, env(map[string]string{"NATS_TOKEN": testToken, "NATS_PASSWORD": testPassword}), Options{Logger: slog.New(logs)})
			if err == nil {
				nc.Close()
				t.Fatal("Connect succeeded")
			}
			t.Logf("error: %v", err)
			if ctx.Err() != nil {
				t.Errorf("Connect retried until ctx ended: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(w)) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			for _, secret := range []string{testToken, testPassword} {
				if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
					t.Errorf("a secret leaked:\nerr: %v\nlogs:\n%s", err, logs.String())
				}
			}
		})
	}
}

// TestConnectFollowsServer: Connect waits for a server that is not up yet, and OnStatus follows
// the server going away and coming back on the same port.
func TestConnectFollowsServer(t *testing.T) {
	t.Parallel()
	port := testutil.FreePort(t)
	logs := &testutil.LogRecorder{}
	status := &statusLog{}
	done := make(chan error, 1)
	connected := status.last
	go func() {
		nc, err := Connect(testutil.Context(t, 20*time.Second), config.NATS{URL: fmt.Sprintf("nats://127.0.0.1:%d", port)}, env(nil),
			Options{Logger: slog.New(logs), OnStatus: status.on, reconnectWait: 20 * time.Millisecond})
		if err == nil {
			t.Cleanup(nc.Close)
		}
		done <- err
	}()
	testutil.WaitFor(t, "a logged connect failure", func() bool { return logs.Has("cannot reach NATS") })
	s1 := startServer(t, port, nil)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "OnStatus(true)", func() bool { c, ok := connected(); return ok && c })

	s1.Shutdown()
	s1.WaitForShutdown()
	testutil.WaitFor(t, "OnStatus(false)", func() bool { c, ok := connected(); return ok && !c })
	testutil.WaitFor(t, "a logged disconnect", func() bool { return logs.Has("disconnected from NATS") })

	startServer(t, port, nil)
	testutil.WaitFor(t, "OnStatus(true) after the restart", func() bool { c, ok := connected(); return ok && c })
	if !logs.Has("reconnected to NATS") {
		t.Errorf("no reconnect logged:\n%s", logs.String())
	}
}

func TestConnectContextEnds(t *testing.T) {
	t.Parallel()
	ctx := testutil.Context(t, 300*time.Millisecond)
	start := time.Now()
	nc, err := Connect(ctx, config.NATS{URL: fmt.Sprintf("nats://127.0.0.1:%d", testutil.FreePort(t))}, env(nil), Options{})
	if err == nil {
		nc.Close()
		t.Fatal("Connect succeeded without a server")
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "not connected to nats.url nats://127.0.0.1:") {
		t.Errorf("err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Connect returned %s after it was asked to stop", d)
	}
}

func TestRedactURLs(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"nats://a:4222":                               "nats://a:4222",
		"nats://tok@a:4222, nats://u:pw@b:4222":       "nats://REDACTED@a:4222,nats://REDACTED@b:4222",
		"tls://a:4222,nats://%zz:pw@b":                "tls://a:4222,(unparsable URL)",
		"nats://127.0.0.1:4222,nats://127.0.0.1:4223": "nats://127.0.0.1:4222,nats://127.0.0.1:4223",
	} {
		if got := redactURLs(in); got != want {
			t.Errorf("redactURLs(%q) = %q, want %q", in, got, want)
		}
	}
}

// operatorMode turns o into a decentralized-auth server trusting a fresh operator, and returns
// a user's .creds file content.
func operatorMode(t *testing.T, o *server.Options) []byte {
	t.Helper()
	okp, _ := nkeys.CreateOperator()
	opub, _ := okp.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	ojwt, err := oc.Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	oc, err = jwt.DecodeOperatorClaims(ojwt)
	if err != nil {
		t.Fatal(err)
	}
	akp, _ := nkeys.CreateAccount()
	apub, _ := akp.PublicKey()
	ajwt, err := jwt.NewAccountClaims(apub).Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	ukp, _ := nkeys.CreateUser()
	upub, _ := ukp.PublicKey()
	ujwt, err := jwt.NewUserClaims(upub).Encode(akp)
	if err != nil {
		t.Fatal(err)
	}
	useed, _ := ukp.Seed()
	creds, err := jwt.FormatUserConfig(ujwt, useed)
	if err != nil {
		t.Fatal(err)
	}
	r := &server.MemAccResolver{}
	if err := r.Store(apub, ajwt); err != nil {
		t.Fatal(err)
	}
	o.TrustedOperators = []*jwt.OperatorClaims{oc}
	o.AccountResolver = r
	o.JetStream = false // JetStream in operator mode needs a system account; not what this tests
	return creds
}
