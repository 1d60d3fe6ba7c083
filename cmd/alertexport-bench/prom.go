package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// sample is one line of a Prometheus text page.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// promPage is a parsed /metrics page.
type promPage []sample

// parseProm reads the Prometheus text format, as much of it as the child writes: comments,
// `name value` and `name{k="v",...} value`.
func parseProm(r io.Reader) (promPage, error) {
	var page promPage
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parseSample(line)
		if err != nil {
			return nil, err
		}
		page = append(page, s)
	}
	return page, sc.Err()
}

func parseSample(line string) (sample, error) {
	s := sample{labels: map[string]string{}}
	rest := line
	if i := strings.IndexAny(line, "{ "); i >= 0 && line[i] == '{' {
		s.name = line[:i]
		var err error
		if rest, err = parseLabels(line[i+1:], s.labels); err != nil {
			return s, fmt.Errorf("metrics line %q: %w", line, err)
		}
	} else {
		s.name, rest, _ = strings.Cut(line, " ")
	}
	fields := strings.Fields(rest) // value [timestamp]
	if len(fields) == 0 {
		return s, fmt.Errorf("metrics line %q: no value", line)
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return s, fmt.Errorf("metrics line %q: %w", line, err)
	}
	s.value = v
	return s, nil
}

// parseLabels reads `k="v",...}` into labels and returns what follows the closing brace.
func parseLabels(in string, labels map[string]string) (string, error) {
	for {
		in = strings.TrimLeft(in, " ,")
		if strings.HasPrefix(in, "}") {
			return in[1:], nil
		}
		k, rest, ok := strings.Cut(in, "=")
		if !ok || !strings.HasPrefix(rest, `"`) {
			return "", fmt.Errorf("bad label at %q", in)
		}
		var v strings.Builder
		i := 1
		for ; i < len(rest) && rest[i] != '"'; i++ {
			if rest[i] == '\\' && i+1 < len(rest) {
				i++
				if rest[i] == 'n' {
					v.WriteByte('\n')
					continue
				}
			}
			v.WriteByte(rest[i])
		}
		if i >= len(rest) {
			return "", fmt.Errorf("unterminated label value at %q", in)
		}
		labels[strings.TrimSpace(k)] = v.String()
		in = rest[i+1:]
	}
}

// sum adds the samples of name whose labels include every pair of match.
func (p promPage) sum(name string, match map[string]string) float64 {
	total := 0.0
	for _, s := range p {
		if s.name == name && matches(s.labels, match) {
			total += s.value
		}
	}
	return total
}

// has reports whether the page holds a sample of name.
func (p promPage) has(name string) bool {
	for _, s := range p {
		if s.name == name {
			return true
		}
	}
	return false
}

func matches(labels, match map[string]string) bool {
	for k, v := range match {
		if labels[k] != v {
			return false
		}
	}
	return true
}
