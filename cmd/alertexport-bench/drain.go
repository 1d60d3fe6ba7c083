package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/sources/registry"
)

// drain is the throughput and rate-limited scenarios: (b) the child exports the backlog (run, or
// backfill for ratelimited), then, for throughput, (a) its messages are published again by the
// raw publisher, and for one Endpoint tenant the pass-throughs (c) and (d) export it again.
func (b *bench) drain(ctx context.Context, e *runEnv, r *report, i int) error {
	if b.o.command == commandBackfill {
		return b.backfill(ctx, e, r)
	}
	last, err := e.nats.waitStored(ctx, e.child, alertsStream, uint64(b.expected), b.o.stall)
	if err != nil {
		return err
	}
	benchCPU := selfCPU() - e.selfCPU
	e.endProfile()
	b.log.Info("backlog exported", "alerts", b.expected, "after", last.Sub(e.child.started).Round(time.Millisecond).String())
	page, err := e.child.scrape(ctx)
	if err != nil {
		return err
	}
	reqs, tokens := e.apiRequests(b.srv), e.tokenRequests(b.srv)
	ru, err := e.child.stop()
	if err != nil {
		return err
	}
	if !page.has("go_memstats_mallocs_total") {
		return fmt.Errorf("the child's /metrics has no go_memstats_mallocs_total (is the Go collector registered in worker/metrics.go?)")
	}
	var raw rawResult
	var pass, envPass passResult
	if b.o.scenario == scenarioThroughput {
		settle()
		var msgs []*nats.Msg
		if raw, msgs, err = b.rawCeiling(ctx, e, i); err != nil {
			return err
		}
		if b.o.source == sourceEndpoint && len(b.tenants) == 1 {
			if pass, envPass, err = b.passThroughs(ctx, e, i, byMsgID(msgs)); err != nil {
				return err
			}
		}
	}

	first := firstRequestAfter(reqs, e.child.started)
	rate := float64(b.expected) / max(last.Sub(first), time.Millisecond).Seconds() // (b)
	if raw.msgs > 0 {
		rawRate := float64(raw.msgs) / raw.elapsed.Seconds()
		r.add("raw_alerts_per_s", "(a) raw JetStream publish", "alerts/s", rawRate)
		r.add("ratio", "(b) / (a)", "", rate/rawRate)
		r.add("raw_seconds", "(a) raw publish time", "s", raw.elapsed.Seconds())
		r.add("avg_msg_bytes", "(a) average message body", "bytes", raw.avgBytes)
	}
	if pass.msgs > 0 {
		passRate := float64(pass.msgs) / pass.elapsed.Seconds()
		r.add("pass_alerts_per_s", "(c) pass-through exporter (same windows, items published unparsed)", "alerts/s", passRate)
		r.add("pass_ratio", "(b) / (c)", "", rate/passRate)
		r.add("pass_seconds", "(c) first request → last ack", "s", pass.elapsed.Seconds())
		r.add("pass_read_amplification", "(c) alerts served / alerts in the backlog", "", float64(pass.served)/float64(pass.msgs))
		r.add("pass_requests", "(c) API requests", "", float64(pass.requests))
		r.add("pass_cpu_seconds", "(c) CPU of the bench process meanwhile: simulator, NATS server and the pass-through (compare with (b)'s cpu_seconds + bench_cpu_seconds)", "s", pass.cpu.Seconds())
	}
	if envPass.msgs > 0 {
		envRate := float64(envPass.msgs) / envPass.elapsed.Seconds()
		r.add("envpass_alerts_per_s", "(d) pass-through sending the product's own messages (normalizing for free)", "alerts/s", envRate)
		r.add("envpass_ratio", "(b) / (d): what building the envelope costs", "", rate/envRate)
		if pass.msgs > 0 {
			r.add("envpass_of_pass", "(d) / (c): what the envelope's bytes cost (about the most pass_ratio can be)", "", envRate*pass.elapsed.Seconds()/float64(pass.msgs))
		}
		r.add("envpass_cpu_seconds", "(d) CPU of the bench process meanwhile", "s", envPass.cpu.Seconds())
	}
	b.exportFigures(r, e, first, last, last, ru, benchCPU, reqs, tokens)
	r.add("allocs_per_alert", "(b) allocations per alert (go_memstats_mallocs_total / alerts)", "", page.sum("go_memstats_mallocs_total", nil)/float64(b.expected))
	r.add("polls", "(b) polls (alertexport_polls_total)", "", page.sum("alertexport_polls_total", nil))
	r.add("poll_errors", "(b) failed polls (alertexport_poll_errors_total)", "", page.sum("alertexport_poll_errors_total", nil))
	if b.o.scenario == scenarioRateLimited {
		b.rateFigures(r, reqs, first, last)
	}
	if m := page.sum("alertexport_api_requests_total", nil); int(m) != len(reqs) {
		r.notes = append(r.notes, fmt.Sprintf("the child counted %.0f API requests, the simulator %d", m, len(reqs)))
	}
	if m := page.sum("alertexport_token_requests_total", nil); int(m) != len(tokens) {
		r.notes = append(r.notes, fmt.Sprintf("the child counted %.0f token requests, the simulator %d", m, len(tokens)))
	}
	return b.checkStream(ctx, e, r)
}

// backfill is the rate-limited scenario with `alertexport backfill`: it must exit 0 with the
// whole backlog in the stream.
func (b *bench) backfill(ctx context.Context, e *runEnv, r *report) error {
	last, err := e.nats.waitExit(ctx, e.child, alertsStream, b.o.stall)
	if err != nil {
		return err
	}
	exited := time.Now()
	benchCPU := selfCPU() - e.selfCPU
	ru, err := e.child.stop() // it has exited: this collects its status and rusage
	if err != nil {
		return err
	}
	b.log.Info("backfill done", "alerts", b.expected, "after", exited.Sub(e.child.started).Round(time.Millisecond).String())
	reqs, tokens := e.apiRequests(b.srv), e.tokenRequests(b.srv)
	first := firstRequestAfter(reqs, e.child.started)
	// The export ends with the last alert stored, or with the last answer if reads that found
	// nothing new came after it.
	for _, q := range reqs {
		if q.Done.After(last) {
			last = q.Done
		}
	}
	b.exportFigures(r, e, first, last, exited, ru, benchCPU, reqs, tokens)
	b.rateFigures(r, reqs, first, last)
	return b.checkStream(ctx, e, r)
}

// exportFigures are what every export reports: its time and rate, the child's cost, and what
// the simulator saw. last is the time the last alert was stored, end when the child was done
// (the same for run, which keeps running).
func (b *bench) exportFigures(r *report, e *runEnv, first, last, end time.Time, ru usage, benchCPU time.Duration,
	reqs []sim.APIRequest, tokens []sim.TokenRequest) {
	export := max(last.Sub(first), time.Millisecond)
	r.add("product_alerts_per_s", "(b) alertexport "+b.o.command, "alerts/s", float64(b.expected)/export.Seconds())
	r.add("product_seconds", "(b) first API request → last alert stored (backfill: or last answer)", "s", export.Seconds())
	r.add("startup_seconds", "(b) child start → first API request", "s", first.Sub(e.child.started).Seconds())
	if last.After(end) {
		end = last
	}
	r.add("wall_seconds", "(b) child start → last alert stored (backfill: → exit)", "s", end.Sub(e.child.started).Seconds())
	r.add("peak_rss_mib", "(b) peak RSS (VmHWM)", "MiB", float64(ru.maxRSSKiB)/1024)
	r.add("cpu_seconds", "(b) CPU user+sys, whole life", "s", (ru.user + ru.sys).Seconds())
	r.add("bench_cpu_seconds", "(b) CPU of the simulator + NATS server (the bench process) meanwhile", "s", benchCPU.Seconds())
	r.add("api_requests", "(b) API requests (simulator)", "", float64(len(reqs)))
	served, answered := 0, 0
	var serving time.Duration
	for _, q := range reqs {
		served += q.Results
		if !q.Done.IsZero() {
			serving += q.Done.Sub(q.Time)
			answered++
		}
	}
	// How much of each call the simulator takes: a call cannot be shorter, whatever the limiter.
	r.add("api_server_ms", "(b) simulator time per API request, mean (arrival → answer written)", "ms",
		serving.Seconds()*1000/float64(max(1, answered)))
	r.add("api_alerts_served", "(b) alerts in the API's answers (simulator)", "", float64(served))
	r.add("read_amplification", "(b) alerts served / alerts in the backlog", "", float64(served)/float64(b.expected))
	r.add("token_requests", "(b) token requests (simulator)", "", float64(len(tokens)))
	r.add("api_429", "(b) API answers 429 (simulator)", "", float64(countStatus(reqs, http.StatusTooManyRequests)))
}

// checkStream checks that the stream holds exactly the backlog.
func (b *bench) checkStream(ctx context.Context, e *runEnv, r *report) error {
	state, err := e.nats.streamState(ctx, alertsStream)
	if err != nil {
		return err
	}
	r.check("stream_exact", "stream ALERTS holds exactly the backlog", state.Msgs == uint64(b.expected),
		fmt.Sprintf("%d messages", state.Msgs))
	return nil
}

// rawCeiling reads back what the child published and publishes it again, raw; it returns
// those messages too.
func (b *bench) rawCeiling(ctx context.Context, e *runEnv, i int) (rawResult, []*nats.Msg, error) {
	msgs, err := e.nats.readBack(ctx, alertsStream)
	if err != nil {
		return rawResult{}, nil, err
	}
	profile := ""
	if i == 0 {
		profile = b.o.cpuProfile
	}
	b.log.Info("raw publish", "messages", len(msgs), "pending", b.o.pending)
	raw, err := e.nats.publishRaw(ctx, msgs, b.o.pending, profile)
	if err != nil {
		return rawResult{}, nil, err
	}
	b.log.Info("raw publish done", "took", raw.elapsed.Round(time.Millisecond).String())
	return raw, msgs, nil
}

// passThroughs runs (c) and (d) after an untimed warm-up export, (d) first in every other run.
// Without the warm-up the first of them paid about 120,000 page faults (0.3-0.9 s of system
// time) for growing this process's heap onto fresh pages, as the raw publisher left it, which
// neither the second nor the product's phase paid: (d)/(c) came out near 0.94 when (c) went
// first and 0.75 when (d) did.
func (b *bench) passThroughs(ctx context.Context, e *runEnv, i int, envelopes map[string]*nats.Msg) (pass, envPass passResult, err error) {
	b.log.Info("pass-through warm-up")
	settle()
	if _, err := b.passThrough(ctx, e, warmStream, warmPrefix, nil); err != nil {
		return pass, envPass, fmt.Errorf("warm-up: %w", err)
	}
	order := []bool{false, true} // envelopes?
	if i%2 == 1 {
		slices.Reverse(order)
	}
	for _, env := range order {
		name, byID, res := "pass-through", map[string]*nats.Msg(nil), &pass
		if env {
			name, byID, res = "envelope pass-through", envelopes, &envPass
		}
		b.log.Info(name + " export")
		settle()
		if *res, err = b.passThroughProfiled(ctx, e, i, byID); err != nil {
			return pass, envPass, err
		}
		b.log.Info(name+" done", "took", res.elapsed.Round(time.Millisecond).String(), "requests", res.requests)
	}
	return pass, envPass, nil
}

// rateFigures reports, per API, the calls made and their rate from the first to the last, in
// real and in scaled time (over at least a window of the binding limit), against the documented
// limit, and the fullest window of each limit; and the alerts' rate against the
// limit-bound rate, the documented calls a minute times the API's page size. For Endpoint the
// binding limit of a long export is 1,500 calls an hour, not 100 a minute.
func (b *bench) rateFigures(r *report, reqs []sim.APIRequest, first, last time.Time) {
	scale := b.o.timeScale
	r.add("time_scale", "time scale (every rate-limit window divided by it)", "", scale)
	throttled := countStatus(reqs, http.StatusTooManyRequests)
	r.check("no_429", "no API answer was 429", throttled == 0, fmt.Sprintf("%d answered 429", throttled))
	for _, api := range []string{sourceEndpoint, sourceCloudApps, sourceGraph} {
		var times []time.Time
		throttled := 0
		for _, q := range reqs {
			if q.API == api {
				times = append(times, q.Time)
				if q.Status == http.StatusTooManyRequests {
					throttled++
				}
			}
		}
		if len(times) == 0 {
			continue
		}
		slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
		facts, _ := registry.Lookup(api)
		limit := math.Inf(1) // the binding documented rate, calls a (scaled) minute
		var binding time.Duration
		fullest := 0.0 // the most calls in any window of a limit, over the limit
		for _, l := range facts.Limits {
			if rate := float64(l.Requests) / l.Per.Minutes(); rate < limit {
				limit, binding = rate, l.Per
			}
			fullest = max(fullest, float64(sim.MostInWindow(times, time.Duration(float64(l.Per)/scale)))/float64(l.Requests))
		}
		// The achieved rate over at least one window of the binding limit: the limiter lets a
		// window's calls go at once, so a shorter export's own span says nothing of the rate.
		perMin := 0.0
		if span := max(times[len(times)-1].Sub(times[0]), time.Duration(float64(binding)/scale)); len(times) > 1 {
			perMin = float64(len(times)-1) / span.Minutes()
		}
		// The alerts' rate: the whole export's when it is this API's alone, else this API's
		// requests' span (backfill runs one job after the other).
		alerts, span := float64(b.backlog.of(api)*len(b.tenants)), last.Sub(first)
		if b.backlog.total() != b.backlog.of(api) {
			span = times[len(times)-1].Sub(times[0])
		}
		alertsPerSec := alerts / max(span, time.Millisecond).Seconds()
		bound := limit * scale / 60 * float64(facts.PageCap) // alerts a real second
		r.add(api+"_requests", api+": API requests", "", float64(len(times)))
		r.add(api+"_429", api+": answered 429", "", float64(throttled))
		r.add(api+"_achieved_per_min", api+": achieved rate, first to last request, real time", "calls/min", perMin)
		r.add(api+"_achieved_per_scaled_min", api+": the same in scaled time", "calls/scaled min", perMin/scale)
		r.add(api+"_limit_per_min", api+": documented limit (binding)", "calls/scaled min", limit)
		r.add(api+"_calls_ratio", api+": achieved / documented calls", "", perMin/scale/limit)
		r.add(api+"_window_ratio", api+": the most calls in any (scaled) window of a documented limit / that limit", "", fullest)
		r.add(api+"_limit_bound_alerts_per_s", api+": limit-bound rate (documented calls × page size)", "alerts/s", bound)
		r.add(api+"_alerts_ratio", api+": alerts exported / limit-bound rate", "", alertsPerSec/bound)
	}
}

func countStatus(reqs []sim.APIRequest, status int) int {
	n := 0
	for _, q := range reqs {
		if q.Status == status {
			n++
		}
	}
	return n
}
