package cloudapps

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The filters of List alerts (CloudAppSecurityDocs api-alerts.md §Filters,
// api-introduction.md): {"filters": {"<field>": {"<operator>": <value>, ...}, ...}}.
// Fields are ANDed, and so are the operators of one field. Each field takes
// the operators the doc's table lists for it and no other ("Not all
// operators are compatible with all filters", api-introduction.md); a field
// or operator the simulator does not know is refused with a 400 that names
// the ones it knows.

// cloudAppsKeys are the values of an alert the filters and sorts look at.
type cloudAppsKeys struct {
	id          string
	timestamp   int64 // epoch ms
	resolveTime int64 // epoch ms, when resolved
	resolved    bool  // the alert has a resolveTime
	severity    int
	resolution  int
	status      int
	services    []int64       // numeric ids of service entities
	insts       []int64       // inst of account entities
	accounts    []cloudAppsPK // account entities
	ips         []string
	files       []string
	policies    []string
}

// cloudAppsPK is an entity's primary key as entity.entity takes it:
// {"id": "...", "inst": 0}.
type cloudAppsPK struct {
	id   string
	inst int64
}

func cloudAppsKeysOf(a *Alert) cloudAppsKeys {
	k := cloudAppsKeys{id: a.ID, timestamp: a.Timestamp.UnixMilli(), severity: a.SeverityValue,
		resolution: a.ResolutionStatusValue, status: a.StatusValue}
	if a.ResolveTime != nil {
		k.resolveTime, k.resolved = a.ResolveTime.UnixMilli(), true
	}
	entities := a.Entities
	if a.Policy != nil {
		entities = append(slices.Clip(entities), *a.Policy)
	}
	for _, e := range entities {
		switch e.Type {
		case "service":
			if n, err := strconv.ParseInt(e.ID, 10, 64); err == nil {
				k.services = append(k.services, n)
			}
		case "account":
			inst := int64(0)
			if e.Inst != nil {
				inst = int64(*e.Inst)
			}
			k.insts = append(k.insts, inst)
			k.accounts = append(k.accounts, cloudAppsPK{e.ID, inst})
		case "ip":
			k.ips = append(k.ips, e.ID)
		case "file":
			k.files = append(k.files, e.ID)
		case "policyRule":
			k.policies = append(k.policies, e.ID)
		}
	}
	return k
}

type cloudAppsPred func(*cloudAppsKeys) bool

// cloudAppsOpParser turns an operator's value into a predicate; the error text
// completes "filters.<field>.<op>: ".
type cloudAppsOpParser func(v any) (cloudAppsPred, error)

type cloudAppsFilterDef struct {
	ops   []string // in the doc's order, for messages
	parse map[string]cloudAppsOpParser
}

// cloudAppsUnmodelled are filters api-alerts.md documents whose alert fields the
// documented alert object does not show (risk, alertType) or whose meaning
// it does not pin down (source: "built-in or policy"). Choice: refused with
// a message that says so, rather than answered with a guess.
var cloudAppsUnmodelled = []string{"risk", "alertType", "source"}

// cloudAppsFilterDefs builds the filters, with now (the simulator's clock) for
// the *_ndays operators.
func cloudAppsFilterDefs(now time.Time) map[string]cloudAppsFilterDef {
	date := timeFilter(func(k *cloudAppsKeys) (int64, bool) { return k.timestamp, true }, true, now)
	id := stringFilter(func(k *cloudAppsKeys) []string { return []string{k.id} })
	return map[string]cloudAppsFilterDef{
		"date":           date,
		"resolutionDate": timeFilter(func(k *cloudAppsKeys) (int64, bool) { return k.resolveTime, k.resolved }, false, now),
		"severity":       intFilter(func(k *cloudAppsKeys) []int64 { return []int64{int64(k.severity)} }),
		"resolutionStatus": intFilter(func(k *cloudAppsKeys) []int64 {
			return []int64{int64(k.resolution)}
		}),
		"alertOpen": boolFilter(func(k *cloudAppsKeys) bool { return k.resolution == 0 }),
		// read: statusValue READ (1). Choice: ARCHIVED (2) is not read.
		"read": boolFilter(func(k *cloudAppsKeys) bool { return k.status == 1 }),
		// The doc's table writes ID, its close examples id; both are taken.
		"id":              id,
		"ID":              id,
		"entity.service":  intFilter(func(k *cloudAppsKeys) []int64 { return k.services }),
		"entity.instance": intFilter(func(k *cloudAppsKeys) []int64 { return k.insts }),
		"entity.ip":       stringFilter(func(k *cloudAppsKeys) []string { return k.ips }),
		"entity.file":     stringFilter(func(k *cloudAppsKeys) []string { return k.files }),
		"entity.policy":   stringFilter(func(k *cloudAppsKeys) []string { return k.policies }),
		"entity.entity":   pkFilter(),
	}
}

// parseCloudAppsFilters validates the filters parameter (nil: none) and returns
// the predicate, nil for no filter.
func parseCloudAppsFilters(v any, now time.Time) (cloudAppsPred, error) {
	if v == nil {
		return nil, nil
	}
	fields, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf(`filters must be a JSON object such as {"date":{"gte":1621941916475}}, got %s`, jsonKind(v))
	}
	defs := cloudAppsFilterDefs(now)
	var preds []cloudAppsPred
	for _, field := range slices.Sorted(maps.Keys(fields)) {
		def, ok := defs[field]
		if !ok {
			if slices.Contains(cloudAppsUnmodelled, field) {
				return nil, fmt.Errorf("filter '%s' is documented for alerts, but the simulator does not model the alert field it filters on", field)
			}
			known := slices.Sorted(maps.Keys(defs))
			return nil, fmt.Errorf("unknown filter '%s'; the filters of alerts are %s", field, strings.Join(known, ", "))
		}
		ops, ok := fields[field].(map[string]any)
		if !ok {
			return nil, fmt.Errorf(`filter '%s' must be an object of operators such as {"%s":{"%s":...}}, got %s`, field, field, def.ops[0], jsonKind(fields[field]))
		}
		if len(ops) == 0 {
			return nil, fmt.Errorf("filter '%s' has no operator; it takes %s", field, strings.Join(def.ops, ", "))
		}
		for _, op := range slices.Sorted(maps.Keys(ops)) {
			parse, ok := def.parse[op]
			if !ok {
				return nil, fmt.Errorf("operator '%s' is not supported by filter '%s', which takes %s", op, field, strings.Join(def.ops, ", "))
			}
			p, err := parse(ops[op])
			if err != nil {
				return nil, fmt.Errorf("filters.%s.%s: %w", field, op, err)
			}
			preds = append(preds, p)
		}
	}
	return func(k *cloudAppsKeys) bool {
		for _, p := range preds {
			if !p(k) {
				return false
			}
		}
		return true
	}, nil
}

// jsonKind names a decoded JSON value's type for messages.
func jsonKind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "the number " + x.String()
	case string:
		return strconv.Quote(x)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// number is a JSON number's value. Epoch milliseconds and day counts are
// compared as numbers, as the service's document store does (1.6e12 and
// 1600000000000 are the same value); strings are refused. A time in
// seconds is not refused either: it is a valid number of milliseconds in
// January 1970, so a client that sends seconds silently gets every alert
// since then (demisto/content sent seconds in its MicrosoftCloudAppSecurity
// integration at commit 002bb4268d0d).
func number(v any) (float64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("expected a number, got %s", jsonKind(v))
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("expected a number, got %s", n)
	}
	return f, nil
}

func integer(v any) (int64, error) {
	f, err := number(v)
	if err != nil {
		return 0, fmt.Errorf("expected an integer, got %s", jsonKind(v))
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("expected an integer, got %s", jsonKind(v))
	}
	return int64(f), nil
}

// list is the values of eq and neq: a list, as api-introduction.md shows,
// or a single value, as clients send it (XSOAR: {"severity":{"eq":2}}).
func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

func timeFilter(get func(*cloudAppsKeys) (int64, bool), ndays bool, now time.Time) cloudAppsFilterDef {
	bound := func(cmp func(ts int64, b float64) bool) cloudAppsOpParser {
		return func(v any) (cloudAppsPred, error) {
			b, err := number(v)
			if err != nil {
				return nil, fmt.Errorf("%w (epoch milliseconds)", err)
			}
			return func(k *cloudAppsKeys) bool {
				ts, ok := get(k)
				return ok && cmp(ts, b)
			}, nil
		}
	}
	days := func(cmp func(ts int64, b float64) bool) cloudAppsOpParser {
		return func(v any) (cloudAppsPred, error) {
			d, err := number(v)
			if err != nil || d < 0 {
				return nil, fmt.Errorf("expected a number of days >= 0, got %s", jsonKind(v))
			}
			b := float64(now.UnixMilli()) - d*float64(24*time.Hour/time.Millisecond)
			return func(k *cloudAppsKeys) bool {
				ts, ok := get(k)
				return ok && cmp(ts, b)
			}, nil
		}
	}
	gte := func(ts int64, b float64) bool { return float64(ts) >= b }
	lte := func(ts int64, b float64) bool { return float64(ts) <= b }
	def := cloudAppsFilterDef{
		ops: []string{"lte", "gte", "range"},
		parse: map[string]cloudAppsOpParser{
			"gte": bound(gte),
			"lte": bound(lte),
			// range: a list of {"start","end"}, either of which matches.
			// Choice: both ends inclusive, like gte and lte; adjacent
			// ranges therefore share their boundary millisecond.
			"range": func(v any) (cloudAppsPred, error) {
				items, ok := v.([]any)
				if !ok {
					return nil, fmt.Errorf(`expected a list of {"start":<ms>,"end":<ms>}, got %s`, jsonKind(v))
				}
				type span struct{ start, end float64 }
				spans := make([]span, 0, len(items))
				for i, it := range items {
					o, ok := it.(map[string]any)
					if !ok {
						return nil, fmt.Errorf(`item %d: expected {"start":<ms>,"end":<ms>}, got %s`, i, jsonKind(it))
					}
					for k := range o {
						if k != "start" && k != "end" {
							return nil, fmt.Errorf("item %d: unknown key '%s'; a range has start and end", i, k)
						}
					}
					start, err1 := number(o["start"])
					end, err2 := number(o["end"])
					if err1 != nil || err2 != nil {
						return nil, fmt.Errorf("item %d: start and end must be numbers (epoch milliseconds), got %s and %s", i, jsonKind(o["start"]), jsonKind(o["end"]))
					}
					spans = append(spans, span{start, end})
				}
				return func(k *cloudAppsKeys) bool {
					ts, ok := get(k)
					if !ok {
						return false
					}
					for _, s := range spans {
						if float64(ts) >= s.start && float64(ts) <= s.end {
							return true
						}
					}
					return false
				}, nil
			},
		},
	}
	if ndays {
		def.ops = append(def.ops, "lte_ndays", "gte_ndays")
		def.parse["gte_ndays"] = days(gte)
		def.parse["lte_ndays"] = days(lte)
	}
	return def
}

func intFilter(get func(*cloudAppsKeys) []int64) cloudAppsFilterDef {
	parse := func(neq bool) cloudAppsOpParser {
		return func(v any) (cloudAppsPred, error) {
			var want []int64
			for _, x := range list(v) {
				n, err := integer(x)
				if err != nil {
					return nil, err
				}
				want = append(want, n)
			}
			return func(k *cloudAppsKeys) bool {
				hit := slices.ContainsFunc(get(k), func(n int64) bool { return slices.Contains(want, n) })
				return hit != neq
			}, nil
		}
	}
	return cloudAppsFilterDef{ops: []string{"eq", "neq"}, parse: map[string]cloudAppsOpParser{"eq": parse(false), "neq": parse(true)}}
}

func stringFilter(get func(*cloudAppsKeys) []string) cloudAppsFilterDef {
	parse := func(neq bool) cloudAppsOpParser {
		return func(v any) (cloudAppsPred, error) {
			var want []string
			for _, x := range list(v) {
				s, ok := x.(string)
				if !ok {
					return nil, fmt.Errorf("expected a string or a list of strings, got %s", jsonKind(x))
				}
				want = append(want, s)
			}
			return func(k *cloudAppsKeys) bool {
				hit := slices.ContainsFunc(get(k), func(s string) bool { return slices.Contains(want, s) })
				return hit != neq
			}, nil
		}
	}
	return cloudAppsFilterDef{ops: []string{"eq", "neq"}, parse: map[string]cloudAppsOpParser{"eq": parse(false), "neq": parse(true)}}
}

func boolFilter(get func(*cloudAppsKeys) bool) cloudAppsFilterDef {
	return cloudAppsFilterDef{ops: []string{"eq"}, parse: map[string]cloudAppsOpParser{"eq": func(v any) (cloudAppsPred, error) {
		var want []bool
		for _, x := range list(v) {
			b, ok := x.(bool)
			if !ok {
				return nil, fmt.Errorf("expected true or false, got %s", jsonKind(x))
			}
			want = append(want, b)
		}
		return func(k *cloudAppsKeys) bool { return slices.Contains(want, get(k)) }, nil
	}}}
}

// pkFilter is entity.entity: [{"id": "<entity id>", "inst": 0}], matched
// against the alert's account entities; inst defaults to 0.
func pkFilter() cloudAppsFilterDef {
	parse := func(neq bool) cloudAppsOpParser {
		return func(v any) (cloudAppsPred, error) {
			var want []cloudAppsPK
			for _, x := range list(v) {
				o, ok := x.(map[string]any)
				if !ok {
					return nil, fmt.Errorf(`expected {"id":"<entity id>","inst":0} or a list of them, got %s`, jsonKind(x))
				}
				id, ok := o["id"].(string)
				if !ok {
					return nil, fmt.Errorf("an entity's id must be a string, got %s", jsonKind(o["id"]))
				}
				pk := cloudAppsPK{id: id}
				if in, ok := o["inst"]; ok {
					n, err := integer(in)
					if err != nil {
						return nil, fmt.Errorf("inst: %w", err)
					}
					pk.inst = n
				}
				want = append(want, pk)
			}
			return func(k *cloudAppsKeys) bool {
				hit := slices.ContainsFunc(k.accounts, func(p cloudAppsPK) bool { return slices.Contains(want, p) })
				return hit != neq
			}, nil
		}
	}
	return cloudAppsFilterDef{ops: []string{"eq", "neq"}, parse: map[string]cloudAppsOpParser{"eq": parse(false), "neq": parse(true)}}
}
