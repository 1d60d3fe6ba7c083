package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
)

// figure is one measured number.
type figure struct {
	key   string // JSON key
	label string // table label
	unit  string
	value float64
}

// check is one yes/no property of a run, with what was seen.
type check struct {
	key, label string
	ok         bool
	detail     string
}

// report is one run's (or the median of several runs') figures and checks.
type report struct {
	scenario, source string
	command          string // what the child ran: run or backfill
	alerts           int    // messages the stream had to hold
	runs             int
	figures          []figure
	checks           []check
	notes            []string
}

func (r *report) add(key, label, unit string, v float64) {
	r.figures = append(r.figures, figure{key: key, label: label, unit: unit, value: v})
}

func (r *report) check(key, label string, ok bool, detail string) {
	r.checks = append(r.checks, check{key: key, label: label, ok: ok, detail: detail})
}

func (r *report) value(key string) (float64, bool) {
	for _, f := range r.figures {
		if f.key == key {
			return f.value, true
		}
	}
	return 0, false
}

// median combines runs: each figure is the median of its values (the mean of the middle two
// for an even count), a check holds only if it held in every run, notes are the first run's.
func median(runs []*report) *report {
	if len(runs) == 1 {
		return runs[0]
	}
	first := runs[0]
	out := &report{scenario: first.scenario, source: first.source, command: first.command, alerts: first.alerts, runs: len(runs), notes: first.notes}
	for _, f := range first.figures {
		var vs []float64
		for _, r := range runs {
			if v, ok := r.value(f.key); ok {
				vs = append(vs, v)
			}
		}
		slices.Sort(vs)
		m := vs[len(vs)/2]
		if len(vs)%2 == 0 {
			m = (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
		}
		out.add(f.key, f.label, f.unit, m)
	}
	for i, c := range first.checks {
		all := c
		for _, r := range runs[1:] {
			if i < len(r.checks) && !r.checks[i].ok {
				all.ok, all.detail = false, r.checks[i].detail
			}
		}
		out.checks = append(out.checks, all)
	}
	return out
}

// writeTable prints the report for people.
func (r *report) writeTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	what := "figures"
	if r.runs > 1 {
		what = fmt.Sprintf("median of %d runs", r.runs)
	}
	fmt.Fprintf(tw, "scenario %s, source %s, alertexport %s, %d alerts in the stream (%s)\n", r.scenario, r.source, r.command, r.alerts, what)
	for _, f := range r.figures {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.label, formatValue(f.value), f.unit)
	}
	for _, c := range r.checks {
		verdict := "ok"
		if !c.ok {
			verdict = "NOT MET"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", c.label, verdict, c.detail)
	}
	for _, n := range r.notes {
		fmt.Fprintf(tw, "  note: %s\n", n)
	}
	return tw.Flush()
}

// writeJSON prints the report as one object: scenario, source, alerts, runs, every figure by
// its key, and every check as a boolean.
func (r *report) writeJSON(w io.Writer) error {
	obj := map[string]any{"scenario": r.scenario, "source": r.source, "command": r.command, "alerts": r.alerts, "runs": r.runs}
	for _, f := range r.figures {
		obj[f.key] = roundFigure(f.value)
	}
	for _, c := range r.checks {
		obj[c.key] = c.ok
	}
	if len(r.notes) > 0 {
		obj["notes"] = r.notes
	}
	enc := json.NewEncoder(w)
	return enc.Encode(obj)
}

// formatValue prints integers as such and other values with three significant decimals.
func formatValue(v float64) string {
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// roundFigure keeps JSON readable: four decimals are plenty for any figure here.
func roundFigure(v float64) float64 { return math.Round(v*1e4) / 1e4 }
