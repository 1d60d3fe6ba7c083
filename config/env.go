package config

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// Read returns the credential's material: the client secret (from the environment variable or
// the file), the PEM bytes of certificate_file, or the current federated token. It is read at the
// moment of use, never stored in the config, and never part of an error message.
func (cr Credential) Read(env LookupEnv) ([]byte, error) {
	switch cr.Kind {
	case SecretEnv:
		v, ok := env(cr.Value)
		switch {
		case !ok:
			return nil, fmt.Errorf("environment variable %s is not set (it must hold the client secret's value)", cr.Value)
		case strings.TrimSpace(v) == "":
			return nil, fmt.Errorf("environment variable %s is empty (it must hold the client secret's value)", cr.Value)
		}
		return []byte(v), nil
	case SecretFile, CertificateFile, FederatedTokenFile:
		b, err := ReadFile(string(cr.Kind), cr.Value)
		if err != nil {
			return nil, err
		}
		if cr.Kind != CertificateFile {
			b = bytes.TrimSpace(b) // editors and `echo` add a newline that is not part of the secret
		}
		return b, nil
	}
	return nil, errors.New("no credential configured")
}

// ReadFile reads a file the config names under key, with a message that names the key and the
// file when it cannot be read or is empty.
func ReadFile(key, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	var pe *fs.PathError
	switch {
	case errors.As(err, &pe):
		return nil, fmt.Errorf("%s %q cannot be read: %w", key, path, pe.Err)
	case err != nil:
		return nil, fmt.Errorf("%s %q cannot be read: %w", key, path, err)
	case len(bytes.TrimSpace(b)) == 0:
		return nil, fmt.Errorf("%s %q is empty", key, path)
	}
	return b, nil
}

// CheckCertificatePEM says whether data holds what certificate_file needs: a CERTIFICATE block
// and an unencrypted private key block.
func CheckCertificatePEM(data []byte) error {
	var cert, key bool
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		switch {
		case b.Type == "CERTIFICATE":
			cert = true
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			if _, encrypted := b.Headers["DEK-Info"]; encrypted || b.Type == "ENCRYPTED PRIVATE KEY" {
				return errors.New("the private key is encrypted; MSAL reads only unencrypted keys (openssl pkcs8 -topk8 -nocrypt)")
			}
			if !isRSAKey(b) {
				return errors.New("the private key is not RSA; Entra ID certificate credentials in MSAL Go need an RSA key")
			}
			key = true
		}
	}
	switch {
	case !cert && !key:
		return errors.New("no PEM blocks; want the certificate and its private key in PEM form")
	case !cert:
		return errors.New("no CERTIFICATE block; want the certificate and its private key in one PEM file")
	case !key:
		return errors.New("no PRIVATE KEY block; want the certificate and its private key in one PEM file")
	}
	return nil
}

// checkEnvironment looks at what the file points to (environment variables, files). Problems
// are warnings: the file itself is valid, and `validate` often runs where the secrets are not
// (a CI job); `run` and `auth check` fail on them when they need them.
func (c *checker) checkEnvironment(cfg *Config) {
	if cfg.Worker.CAFile != "" {
		c.checkCAFile("worker.ca_file", cfg.Worker.CAFile)
	}
	// The credentials serve an external server and the embedded one alike (which requires them);
	// the TLS files only an external one.
	n := cfg.NATS
	files := []struct{ key, path string }{{"nats.creds_file", n.CredsFile}, {"nats.nkey_seed_file", n.NkeySeedFile}}
	if n.URL != "" {
		files = append(files, struct{ key, path string }{"nats.cert_file", n.CertFile}, struct{ key, path string }{"nats.key_file", n.KeyFile})
		if n.CAFile != "" {
			c.checkCAFile("nats.ca_file", n.CAFile)
		}
	}
	for _, f := range files {
		if f.path != "" {
			if _, err := ReadFile(f.key, f.path); err != nil {
				c.envWarnf(f.key, "%v", err)
			}
		}
	}
	for _, e := range []struct{ key, name string }{{"nats.token_env", n.TokenEnv}, {"nats.password_env", n.PasswordEnv}} {
		if v, ok := c.env(e.name); e.name != "" && (!ok || v == "") {
			c.envWarnf(e.key, "environment variable %s is not set here", e.name)
		}
	}
	for i, t := range cfg.Tenants {
		if len(t.Sources()) == 0 {
			continue
		}
		key := fmt.Sprintf("tenant[%d].%s", i, t.Credential.Kind)
		b, err := t.Credential.Read(c.env)
		if err == nil && t.Credential.Kind == CertificateFile {
			err = CheckCertificatePEM(b)
			if err != nil {
				err = fmt.Errorf("%s %q: %w", CertificateFile, t.Credential.Value, err)
			}
		}
		if err != nil {
			c.envWarnf(key, "%v; \"run\" and \"auth check\" need it for tenant %s", err, quote(t.Name))
		}
	}
}

func (c *checker) checkCAFile(key, path string) {
	b, err := ReadFile(key, path)
	if err == nil {
		err = checkCAPEM(b)
	}
	if err != nil {
		c.envWarnf(key, "%v", err)
	}
}

// checkCAPEM says whether data holds at least one CA certificate in PEM form.
func checkCAPEM(data []byte) error {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return errors.New("no CERTIFICATE block; want PEM-encoded CA certificates")
		}
		if b.Type == "CERTIFICATE" {
			return nil
		}
	}
}

func isRSAKey(b *pem.Block) bool {
	if b.Type == "RSA PRIVATE KEY" {
		return true
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	_, ok := k.(*rsa.PrivateKey)
	return err == nil && ok
}

// envWarnf records a warning about the environment (see Problem.Environment).
func (c *checker) envWarnf(key, format string, args ...any) {
	p := c.problem(key, format, args...)
	p.Environment = true
	c.warns = append(c.warns, p)
}
