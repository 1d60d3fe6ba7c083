package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/worker"
)

// requestsPerIdlePoll is what an idle poll of each source should cost: Cloud Apps asks two
// questions (alerts raised, alerts closed) at every poll.
var requestsPerIdlePoll = map[string]int{sourceEndpoint: 1, sourceCloudApps: 2}

// idleWindow is the measured span and what was sampled in it.
type idleWindow struct {
	from, to      time.Time
	before, after promPage
	rssKiB        []int64
}

// idle is the idle scenario: once the backlog is in the stream, measure a whole number of poll
// intervals from a minute after the first polls.
func (b *bench) idle(ctx context.Context, e *runEnv, r *report) error {
	last, err := e.nats.waitStored(ctx, e.child, alertsStream, uint64(b.expected), b.o.stall)
	if err != nil {
		return err
	}
	b.log.Info("backlog exported", "alerts", b.expected, "after", last.Sub(e.child.started).Round(time.Millisecond).String())
	// Every job polled at once when the worker started (just before the first API request),
	// then polls every minute at its phase, its first scheduled poll within the second minute
	// (worker.Phase): any window of whole minutes from then on holds one poll a minute of each.
	first := firstRequestAfter(e.apiRequests(b.srv), e.child.started)
	from := first.Add(time.Minute + time.Second)
	for !from.After(time.Now()) {
		from = from.Add(time.Minute)
	}
	b.log.Info("measuring idle", "from", from.Format(time.TimeOnly), "for", b.o.idleFor.String())
	w, err := b.measureIdle(ctx, e.child, from, from.Add(b.o.idleFor))
	if err != nil {
		return err
	}
	reqs := e.apiRequests(b.srv)
	ru, err := e.child.stop()
	if err != nil {
		return err
	}
	tokens := e.tokenRequests(b.srv)

	minutes := w.to.Sub(w.from).Minutes()
	cpu := w.after.sum("process_cpu_seconds_total", nil) - w.before.sum("process_cpu_seconds_total", nil)
	polls := w.after.sum("alertexport_polls_total", nil) - w.before.sum("alertexport_polls_total", nil)
	r.add("jobs", "jobs (tenants × sources)", "", float64(len(b.tenants)*2))
	r.add("backlog_seconds", "child start → backlog stored", "s", last.Sub(e.child.started).Seconds())
	r.add("idle_seconds", "idle window", "s", w.to.Sub(w.from).Seconds())
	r.add("idle_cpu_seconds_per_min", "idle CPU (process_cpu_seconds_total)", "s/min", cpu/minutes)
	r.add("idle_cpu_ms_per_poll", "idle CPU per poll (all of it, leases included)", "ms", 1000*cpu/max(1, polls))
	mean, peak := meanMax(w.rssKiB)
	r.add("idle_rss_mib_mean", "idle RSS, mean of VmRSS each second", "MiB", mean/1024)
	r.add("idle_rss_mib_max", "idle RSS, max of VmRSS each second", "MiB", peak/1024)
	r.add("peak_rss_mib", "peak RSS, whole life (VmHWM)", "MiB", float64(ru.maxRSSKiB)/1024)
	r.add("cpu_seconds", "CPU user+sys, whole life", "s", (ru.user + ru.sys).Seconds())
	b.checkIdlePolls(r, w, reqs, minutes)
	b.lateness(r, w, reqs, e.child.started, first)
	b.checkTokens(r, tokens)
	return nil
}

// measureIdle scrapes the child's metrics at from and to, and samples its RSS every second
// in between.
func (b *bench) measureIdle(ctx context.Context, c *child, from, to time.Time) (*idleWindow, error) {
	w := &idleWindow{from: from, to: to}
	if err := sleepCtx(ctx, time.Until(from)); err != nil {
		return nil, err
	}
	var err error
	if w.before, err = c.scrape(ctx); err != nil {
		return nil, err
	}
	for now := time.Now(); now.Before(to); now = time.Now() {
		if err := c.alive(); err != nil {
			return nil, err
		}
		rss, _, err := procStatus(c.pid())
		if err != nil {
			return nil, err
		}
		w.rssKiB = append(w.rssKiB, rss)
		if err := sleepCtx(ctx, min(time.Second, to.Sub(now))); err != nil {
			return nil, err
		}
	}
	if w.after, err = c.scrape(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

// job is a (tenant name, source) pair.
type job struct{ tenant, source string }

// requestTimes are the times of the API requests of each job, in order.
func (b *bench) requestTimes(reqs []sim.APIRequest) map[job][]time.Time {
	name := map[string]string{}
	for _, t := range b.tenants {
		name[t.id] = t.name
	}
	times := map[job][]time.Time{}
	for _, q := range reqs {
		j := job{name[q.TenantID], q.API}
		times[j] = append(times[j], q.Time)
	}
	for _, ts := range times {
		slices.SortFunc(ts, time.Time.Compare)
	}
	return times
}

// checkIdlePolls compares, job by job, the API requests the simulator saw in the window with
// the polls the child counted there: every job should poll once a minute, at the cost
// requestsPerIdlePoll says.
func (b *bench) checkIdlePolls(r *report, w *idleWindow, reqs []sim.APIRequest, minutes float64) {
	inWindow := map[job]int{}
	// Polls are spread over the minute (worker.Phase): one that started within seconds of the
	// window's ends may be counted on one side by the simulator and on the other by the
	// child's metrics, scraped then (Cloud Apps' limiter spaces its two questions by a couple of
	// seconds). Those jobs are not held to the exact count.
	atEdge := map[job]bool{}
	near := func(t, edge time.Time) bool { return t.Sub(edge).Abs() < 5*time.Second }
	for j, ts := range b.requestTimes(reqs) {
		for _, t := range ts {
			if !t.Before(w.from) && t.Before(w.to) {
				inWindow[j]++
			}
			if near(t, w.from) || near(t, w.to) {
				atEdge[j] = true
			}
		}
	}
	for _, src := range []string{sourceEndpoint, sourceCloudApps} {
		var reqTotal, pollTotal float64
		off := 0
		detail := ""
		for _, t := range b.tenants {
			labels := map[string]string{"tenant": t.name, "source": src}
			polls := w.after.sum("alertexport_polls_total", labels) - w.before.sum("alertexport_polls_total", labels)
			n := inWindow[job{t.name, src}]
			reqTotal += float64(n)
			pollTotal += polls
			if atEdge[job{t.name, src}] {
				continue
			}
			if polls != minutes || n != int(polls)*requestsPerIdlePoll[src] {
				off++
				if detail == "" {
					detail = fmt.Sprintf("e.g. %s: %.0f polls, %d requests", t.name, polls, n)
				}
			}
		}
		r.add("idle_"+src+"_requests_per_poll", src+": API requests per idle poll", "", reqTotal/max(1, pollTotal))
		r.add("idle_"+src+"_polls_per_job", src+": polls per job in the window", "", pollTotal/float64(len(b.tenants)))
		want := requestsPerIdlePoll[src]
		r.check("idle_"+src+"_requests_ok", fmt.Sprintf("%s: every job polled once a minute, %d API request(s) a poll", src, want),
			off == 0, strings.TrimSpace(fmt.Sprintf("%d of %d jobs differ %s", off, len(b.tenants), detail)))
	}
}

// lateness reports how late the idle window's polls started against the schedule: a job's
// "@every 1m" polls are due at the whole second its scheduler started in, plus its phase
// (worker.Phase), plus whole minutes. That second is between the child's start and the run's
// first API request; of those seconds, the one the polls fit best (the smallest median
// lateness) is taken. A poll starts with its first request; Cloud Apps' second question,
// seconds later, belongs to the same poll.
func (b *bench) lateness(r *report, w *idleWindow, reqs []sim.APIRequest, started, first time.Time) {
	times := b.requestTimes(reqs)
	// against is every poll's lateness if the scheduler started in second s.
	against := func(s time.Time) []float64 {
		var late []float64
		for j, ts := range times {
			anchor := s.Add(worker.Phase(j.tenant, j.source, time.Minute))
			for i, t := range ts {
				if i > 0 && t.Sub(ts[i-1]) < 10*time.Second {
					continue // the same poll's next question
				}
				if t.Before(w.from) || !t.Before(w.to) {
					continue
				}
				due := anchor.Add(t.Sub(anchor).Truncate(time.Minute))
				late = append(late, t.Sub(due).Seconds())
			}
		}
		slices.Sort(late)
		return late
	}
	var late []float64
	for s := started.Truncate(time.Second); !s.After(first); s = s.Add(time.Second) {
		if l := against(s); len(l) > 0 && (late == nil || l[len(l)/2] < late[len(late)/2]) {
			late = l
		}
	}
	if len(late) == 0 {
		return
	}
	q := func(p float64) float64 { return late[min(len(late)-1, int(p*float64(len(late))))] }
	spread := 0.0
	for _, ts := range times {
		spread = max(spread, ts[0].Sub(first).Seconds())
	}
	r.add("idle_polls_measured", "polls in the idle window", "", float64(len(late)))
	r.add("idle_lateness_p50_s", "poll start after its due time (the scheduler's second + phase + whole minutes), median", "s", q(0.5))
	r.add("idle_lateness_p99_s", "the same, 99th percentile", "s", q(0.99))
	r.add("idle_lateness_max_s", "the same, largest", "s", late[len(late)-1])
	r.add("first_poll_spread_s", "the jobs' first polls: last one after the first", "s", spread)
}

// checkTokens: one token request per (tenant, resource) for the whole run.
func (b *bench) checkTokens(r *report, tokens []sim.TokenRequest) {
	type pair struct{ tenant, resource string }
	count := map[pair]int{}
	for _, t := range tokens {
		count[pair{t.TenantID, t.Resource}]++
	}
	want := len(b.tenants) * 2
	once := 0
	for _, n := range count {
		if n == 1 {
			once++
		}
	}
	r.add("token_requests", "token requests, whole run (simulator)", "", float64(len(tokens)))
	r.check("one_token_per_tenant_resource", "one token request per (tenant, resource)", len(tokens) == want && once == want,
		fmt.Sprintf("%d requests for %d (tenant, resource) pairs, want %d", len(tokens), len(count), want))
}

func meanMax(vs []int64) (mean, peak float64) {
	if len(vs) == 0 {
		return 0, 0
	}
	sum := 0.0
	for _, v := range vs {
		sum += float64(v)
		peak = max(peak, float64(v))
	}
	return sum / float64(len(vs)), peak
}
