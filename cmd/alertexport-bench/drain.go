package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/alertexport/alertexport/sources/simulator"
)

// documentedPerMinute is each API's documented per-minute call limit (the Endpoint API also
// allows only 1,500 an hour).
var documentedPerMinute = map[string]float64{sourceEndpoint: 100, sourceCloudApps: 30}

// drain is the throughput and rate-limited scenarios: (b) the child exports the backlog, then,
// for throughput, (a) its messages are published again by the raw publisher.
func (b *bench) drain(ctx context.Context, e *runEnv, r *report, i int) error {
	last, err := e.nats.waitStored(ctx, e.child, alertsStream, uint64(b.expected), b.o.stall)
	if err != nil {
		return err
	}
	benchCPU := selfCPU() - e.selfCPU
	b.log.Info("backlog exported", "alerts", b.expected, "after", last.Sub(e.child.started).Round(time.Millisecond).String())
	page, err := e.child.scrape(ctx)
	if err != nil {
		return err
	}
	reqs, tokens := e.apiRequests(b.sim), e.tokenRequests(b.sim)
	ru, err := e.child.stop()
	if err != nil {
		return err
	}
	if !page.has("go_memstats_mallocs_total") {
		return fmt.Errorf("the child's /metrics has no go_memstats_mallocs_total (is the Go collector registered in worker/metrics.go?)")
	}
	state, err := e.nats.streamState(ctx, alertsStream)
	if err != nil {
		return err
	}
	var raw rawResult
	if b.o.scenario == scenarioThroughput {
		if raw, err = b.rawCeiling(ctx, e, i); err != nil {
			return err
		}
	}

	first := firstRequestAfter(reqs, e.child.started)
	export := max(last.Sub(first), time.Millisecond)
	rate := float64(b.expected) / export.Seconds()
	if raw.msgs > 0 {
		rawRate := float64(raw.msgs) / raw.elapsed.Seconds()
		r.add("raw_alerts_per_s", "(a) raw JetStream publish", "alerts/s", rawRate)
		r.add("product_alerts_per_s", "(b) alertexport run", "alerts/s", rate)
		r.add("ratio", "(b) / (a)", "", rate/rawRate)
		r.add("raw_seconds", "(a) raw publish time", "s", raw.elapsed.Seconds())
		r.add("avg_msg_bytes", "(a) average message body", "bytes", raw.avgBytes)
	} else {
		r.add("product_alerts_per_s", "(b) alertexport run", "alerts/s", rate)
	}
	r.add("product_seconds", "(b) first API request → last alert stored", "s", export.Seconds())
	r.add("startup_seconds", "(b) child start → first API request", "s", first.Sub(e.child.started).Seconds())
	r.add("wall_seconds", "(b) child start → last alert stored", "s", last.Sub(e.child.started).Seconds())
	r.add("peak_rss_mib", "(b) peak RSS (VmHWM)", "MiB", float64(ru.maxRSSKiB)/1024)
	r.add("cpu_seconds", "(b) CPU user+sys, whole life", "s", (ru.user + ru.sys).Seconds())
	r.add("bench_cpu_seconds", "(b) CPU of the simulator + NATS server (the bench process) meanwhile", "s", benchCPU.Seconds())
	r.add("allocs_per_alert", "(b) allocations per alert (go_memstats_mallocs_total / alerts)", "", page.sum("go_memstats_mallocs_total", nil)/float64(b.expected))
	r.add("api_requests", "(b) API requests (simulator)", "", float64(len(reqs)))
	served := 0
	for _, q := range reqs {
		served += q.Results
	}
	r.add("api_alerts_served", "(b) alerts in the API's answers (simulator)", "", float64(served))
	r.add("read_amplification", "(b) alerts served / alerts in the backlog", "", float64(served)/float64(b.expected))
	r.add("token_requests", "(b) token requests (simulator)", "", float64(len(tokens)))
	r.add("api_429", "(b) API answers 429 (simulator)", "", float64(countStatus(reqs, http.StatusTooManyRequests)))
	r.add("polls", "(b) polls (alertexport_polls_total)", "", page.sum("alertexport_polls_total", nil))
	r.add("poll_errors", "(b) failed polls (alertexport_poll_errors_total)", "", page.sum("alertexport_poll_errors_total", nil))
	if b.o.scenario == scenarioRateLimited {
		addRateFigures(r, reqs)
	}
	r.check("stream_exact", "stream ALERTS holds exactly the backlog", state.Msgs == uint64(b.expected),
		fmt.Sprintf("%d messages", state.Msgs))
	if m := page.sum("alertexport_api_requests_total", nil); int(m) != len(reqs) {
		r.notes = append(r.notes, fmt.Sprintf("the child counted %.0f API requests, the simulator %d", m, len(reqs)))
	}
	if m := page.sum("alertexport_token_requests_total", nil); int(m) != len(tokens) {
		r.notes = append(r.notes, fmt.Sprintf("the child counted %.0f token requests, the simulator %d", m, len(tokens)))
	}
	return nil
}

// rawCeiling reads back what the child published and publishes it again, raw.
func (b *bench) rawCeiling(ctx context.Context, e *runEnv, i int) (rawResult, error) {
	msgs, err := e.nats.readBack(ctx, alertsStream)
	if err != nil {
		return rawResult{}, err
	}
	profile := ""
	if i == 0 {
		profile = b.o.cpuProfile
	}
	b.log.Info("raw publish", "messages", len(msgs), "pending", b.o.pending)
	raw, err := e.nats.publishRaw(ctx, msgs, b.o.pending, profile)
	if err != nil {
		return rawResult{}, err
	}
	b.log.Info("raw publish done", "took", raw.elapsed.Round(time.Millisecond).String())
	return raw, nil
}

// addRateFigures reports, per API, the calls made, their achieved rate from the first to the
// last, and the documented limit.
func addRateFigures(r *report, reqs []simulator.APIRequest) {
	for _, api := range []string{sourceEndpoint, sourceCloudApps} {
		var times []time.Time
		for _, q := range reqs {
			if q.API == api {
				times = append(times, q.Time)
			}
		}
		if len(times) == 0 {
			continue
		}
		slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
		perMin := 0.0
		if span := times[len(times)-1].Sub(times[0]); len(times) > 1 && span > 0 {
			perMin = float64(len(times)-1) / span.Minutes()
		}
		r.add(api+"_requests", api+": API requests", "", float64(len(times)))
		r.add(api+"_achieved_per_min", api+": achieved rate, first to last request", "calls/min", perMin)
		r.add(api+"_limit_per_min", api+": documented limit", "calls/min", documentedPerMinute[api])
	}
}

func countStatus(reqs []simulator.APIRequest, status int) int {
	n := 0
	for _, q := range reqs {
		if q.Status == status {
			n++
		}
	}
	return n
}
