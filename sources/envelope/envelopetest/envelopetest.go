// Package envelopetest holds message bodies to docs/envelope.schema.json, the published
// description of the alertexport.alert.v1 envelope, so that the schema and what the code writes
// cannot drift apart: every test that collects published messages checks them here.
package envelopetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/alertexport/alertexport/sources/envelope"
)

// SchemaPath is where the schema lives, from the module's root.
const SchemaPath = "docs/envelope.schema.json"

// schema compiles the schema once per test binary: the e2e tests check thousands of bodies.
var schema = sync.OnceValues(compile)

func compile() (*jsonschema.Schema, error) {
	path, err := findSchema()
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, fmt.Errorf("%s is not JSON: %w", path, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat() // date-time and uri are part of the contract, not annotations
	if err := c.AddResource(SchemaPath, doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, err := c.Compile(SchemaPath)
	if err != nil {
		return nil, fmt.Errorf("compiling %s: %w", path, err)
	}
	return s, nil
}

// findSchema walks up from the working directory (a test's package directory) to the module
// root, the directory with go.mod.
func findSchema() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, SchemaPath), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: cannot find " + SchemaPath)
		}
		dir = parent
	}
}

// Validate reports how body breaks the schema, nil when it is a valid envelope.
func Validate(body []byte) error {
	s, err := schema()
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(withoutRaw(body)))
	if err != nil {
		return fmt.Errorf("the body is not JSON: %w", err)
	}
	return s.Validate(v)
}

// Check fails t when body, the message named id, is not a valid envelope.
func Check(t testing.TB, id string, body []byte) {
	t.Helper()
	if err := Validate(body); err != nil {
		t.Errorf("%s: the body breaks %s: %v", id, SchemaPath, err)
	}
}

// withoutRaw is body with its raw, when it is a JSON object, replaced by {}: the schema asks
// only that raw be an object, and decoding every alert's kilobytes of evidence into maps made
// the sources' tests ten times slower under -race. Any other raw is left for the schema to
// report.
func withoutRaw(body []byte) []byte {
	raw := envelope.RawOf(body)
	if len(raw) == 0 || raw[0] != '{' || !json.Valid(raw) {
		return body
	}
	start := len(body) - 1 - len(raw)
	out := make([]byte, 0, start+3)
	out = append(out, body[:start]...)
	return append(out, "{}}"...)
}
