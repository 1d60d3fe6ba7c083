package natsconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

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
