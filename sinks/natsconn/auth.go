package natsconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/alertexport/alertexport/config"
)

// authOptions turns the auth and TLS keys of cfg into nats.go options. Every file is read and
// every environment variable looked up here, so a mistake is an error naming its key now
// rather than an endless "authorization violation" later (nats.go reads creds files lazily).
// No secret is ever part of an error.
func authOptions(cfg config.NATS, env config.LookupEnv) ([]nats.Option, error) {
	var opts []nats.Option
	switch {
	case cfg.CredsFile != "":
		b, err := config.ReadFile("nats.creds_file", cfg.CredsFile)
		if err != nil {
			return nil, err
		}
		kp, err := nkeys.ParseDecoratedNKey(b)
		if err != nil {
			return nil, fmt.Errorf("nats.creds_file %q holds no user seed (%v); want the .creds file `nsc generate creds` writes", cfg.CredsFile, err)
		}
		// ParseDecoratedJWT hands back the whole text when it finds no JWT block.
		if tok, err := nkeys.ParseDecoratedJWT(b); err != nil || strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \n") {
			kp.Wipe()
			return nil, fmt.Errorf("nats.creds_file %q holds no user JWT; want the .creds file `nsc generate creds` writes", cfg.CredsFile)
		}
		kp.Wipe()
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	case cfg.NkeySeedFile != "":
		if _, err := config.ReadFile("nats.nkey_seed_file", cfg.NkeySeedFile); err != nil {
			return nil, err
		}
		o, err := nats.NkeyOptionFromSeed(cfg.NkeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("nats.nkey_seed_file %q: %w; want a user seed (a line starting with SU)", cfg.NkeySeedFile, err)
		}
		opts = append(opts, o)
	case cfg.TokenEnv != "":
		tok, err := secretEnv(env, "nats.token_env", cfg.TokenEnv, "the NATS token")
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.Token(tok))
	case cfg.User != "":
		if cfg.PasswordEnv == "" {
			return nil, fmt.Errorf("nats.user %q needs nats.password_env, the environment variable that holds the password", cfg.User)
		}
		pw, err := secretEnv(env, "nats.password_env", cfg.PasswordEnv, "the NATS password of user "+cfg.User)
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.UserInfo(cfg.User, pw))
	case cfg.PasswordEnv != "":
		return nil, errors.New("nats.password_env is set without nats.user; set both or neither")
	}

	if cfg.CAFile != "" {
		b, err := config.ReadFile("nats.ca_file", cfg.CAFile)
		if err != nil {
			return nil, err
		}
		if !x509.NewCertPool().AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("nats.ca_file %q holds no PEM certificate; want the CA certificate(s) that signed the NATS server's certificate", cfg.CAFile)
		}
		// nats.go re-reads the file at every connect, so a renewed CA is picked up.
		opts = append(opts, nats.RootCAs(cfg.CAFile))
	}
	switch {
	case cfg.CertFile != "" && cfg.KeyFile != "":
		for _, f := range []struct{ key, path string }{{"nats.cert_file", cfg.CertFile}, {"nats.key_file", cfg.KeyFile}} {
			if _, err := config.ReadFile(f.key, f.path); err != nil {
				return nil, err
			}
		}
		if _, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile); err != nil {
			return nil, fmt.Errorf("nats.cert_file %q and nats.key_file %q are not a certificate and its key in PEM: %w", cfg.CertFile, cfg.KeyFile, err)
		}
		opts = append(opts, nats.ClientCert(cfg.CertFile, cfg.KeyFile))
	case cfg.CertFile != "" || cfg.KeyFile != "":
		return nil, errors.New("nats.cert_file and nats.key_file go together (mutual TLS); set both or neither")
	}
	return opts, nil
}

// secretEnv reads the secret an environment variable holds; key names the config key.
func secretEnv(env config.LookupEnv, key, name, what string) (string, error) {
	if env == nil {
		env = os.LookupEnv
	}
	v, ok := env(name)
	switch {
	case !ok:
		return "", fmt.Errorf("%s: environment variable %s is not set (it must hold %s)", key, name, what)
	case strings.TrimSpace(v) == "":
		return "", fmt.Errorf("%s: environment variable %s is empty (it must hold %s)", key, name, what)
	}
	return v, nil
}

// redactURLs hides any password in a comma-separated URL list before it reaches a message.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if u, err := url.Parse(p); err == nil && u.User != nil {
			u.User = url.User("REDACTED") // a lone user part may be a token
			p = u.String()
		} else if err != nil {
			p = "(unparsable URL)"
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}

// embeddedAuth makes the embedded server require cfg's credentials of every client, the
// daemon's own in-process connection included: user + password_env, token_env or
// nkey_seed_file (config allows a listener beyond loopback only with one of them). Without
// credentials the server requires none. Secrets are read here, so a missing one is an error
// naming its key before the server starts.
func embeddedAuth(o *server.Options, cfg config.NATS, env config.LookupEnv) error {
	switch {
	case cfg.CredsFile != "":
		return fmt.Errorf("nats.creds_file %q cannot secure the embedded server (a .creds user belongs to an operator's account, and the embedded server has none); use user + password_env, token_env or nkey_seed_file", cfg.CredsFile)
	case cfg.NkeySeedFile != "":
		b, err := config.ReadFile("nats.nkey_seed_file", cfg.NkeySeedFile)
		if err != nil {
			return err
		}
		kp, err := nkeys.ParseDecoratedUserNKey(b)
		if err != nil {
			return fmt.Errorf("nats.nkey_seed_file %q holds no user seed (%v); want a line starting with SU (nk -gen user)", cfg.NkeySeedFile, err)
		}
		defer kp.Wipe()
		pub, err := kp.PublicKey()
		if err != nil {
			return fmt.Errorf("nats.nkey_seed_file %q: %w", cfg.NkeySeedFile, err)
		}
		o.Nkeys = []*server.NkeyUser{{Nkey: pub}}
	case cfg.TokenEnv != "":
		tok, err := secretEnv(env, "nats.token_env", cfg.TokenEnv, "the token the embedded NATS server requires")
		if err != nil {
			return err
		}
		o.Authorization = tok
	case cfg.User != "":
		pw, err := secretEnv(env, "nats.password_env", cfg.PasswordEnv, "the password the embedded NATS server requires of user "+cfg.User)
		if err != nil {
			return err
		}
		o.Username, o.Password = cfg.User, pw
	}
	return nil
}

// embeddedClient is cfg as a client of the embedded server sees it: the same credentials, no
// TLS (the embedded server has none; ca_file and cert_file are for an external server).
func embeddedClient(cfg config.NATS) config.NATS {
	cfg.CAFile, cfg.CertFile, cfg.KeyFile = "", "", ""
	return cfg
}

// EmbeddedClient is how another process (tail, backfill) reaches the embedded server of a
// daemon running with cfg: nats://<embedded_listen>, where an unspecified host ("0.0.0.0",
// "::" or none) becomes loopback, with the same credentials and no TLS. ok is false when
// there is no such listener (nats.url set, or embedded_listen empty).
func EmbeddedClient(cfg config.NATS) (c config.NATS, ok bool) {
	if cfg.URL != "" || cfg.EmbeddedListen == "" {
		return cfg, false
	}
	host, port, err := net.SplitHostPort(cfg.EmbeddedListen)
	if err != nil {
		return cfg, false
	}
	switch ip := net.ParseIP(host); {
	case host == "":
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified() && ip.To4() == nil:
		host = "::1"
	case ip != nil && ip.IsUnspecified():
		host = "127.0.0.1"
	}
	c = embeddedClient(cfg)
	c.URL = "nats://" + net.JoinHostPort(host, port)
	return c, true
}

// Probe connects once to cfg.URL with cfg's credentials and TLS and hangs up: nil when a
// server answered and accepted them; an error wrapping nats.ErrAuthorization when it refused
// them; another error when none answered within timeout.
func Probe(cfg config.NATS, env config.LookupEnv, timeout time.Duration) error {
	auth, err := authOptions(cfg, env)
	if err != nil {
		return err
	}
	nc, err := nats.Connect(cfg.URL, append(auth, nats.Name(Name), nats.Timeout(timeout))...)
	if err != nil {
		return err
	}
	nc.Close()
	return nil
}
