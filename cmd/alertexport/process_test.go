package main

// Tests of the real binary as an operator runs it: several `alertexport run` processes on one
// JetStream server, killed (SIGKILL), frozen (SIGSTOP) and resumed at any point, restarted on
// their data_dir.

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/internal/testutil"
	"github.com/alertexport/alertexport/sinks/natstest"
	"github.com/alertexport/alertexport/sources/envelope"
)

var built struct {
	once sync.Once
	path string
	err  error
}

// binary builds this command once per test run (with -race when the tests have it).
func binary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "alertexport-test-bin")
		if err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(dir, "alertexport")
		args := []string{"build", "-o", built.path}
		if raceBuild {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.path != "" {
		_ = os.RemoveAll(filepath.Dir(built.path))
	}
	os.Exit(code)
}

// proc is one `alertexport run` process.
type proc struct {
	name     string
	cmd      *exec.Cmd
	stderr   *testutil.SyncBuffer
	httpAddr string
	done     chan struct{}
}

// spawn starts `run` on the world's config with an HTTP listener and a data_dir of its own
// (replicas share the config but not the port, and each is a replica of its own).
func (w *world) spawn(t *testing.T, name string) *proc {
	t.Helper()
	return w.spawnIn(t, name, name)
}

// spawnIn is spawn on data_dir <world>/data-<replica>: a process spawned on the data_dir of one
// killed before is that replica restarted.
func (w *world) spawnIn(t *testing.T, name, replica string) *proc {
	t.Helper()
	p := &proc{name: name, stderr: &testutil.SyncBuffer{}, httpAddr: testutil.FreeAddr(t), done: make(chan struct{})}
	cfg := filepath.Join(w.dir, "config-"+name+".toml")
	doc := strings.Replace(w.doc, fmt.Sprintf("http_addr = %q", w.httpAddr), fmt.Sprintf("http_addr = %q", p.httpAddr), 1)
	doc = strings.Replace(doc, fmt.Sprintf("data_dir = %q", filepath.Join(w.dir, "data")), fmt.Sprintf("data_dir = %q", filepath.Join(w.dir, "data-"+replica)), 1)
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(binary(t), "run", "--config", cfg)
	p.cmd.Env = append(os.Environ(), "E2E_SECRET="+e2eSecret)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("replica %s stderr (last 4 KiB):\n%s", p.name, tail(p.stderr.String(), 4096))
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("replica %s: %v: %v", p.name, sig, err)
	}
}

// kill is a crash: SIGKILL, nothing runs after it.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	p.signal(t, syscall.SIGKILL)
	<-p.done
}

// stop is SIGTERM; the process must exit 0 within 30 s.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.signal(t, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("replica %s did not stop within 30 s of SIGTERM", p.name)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("replica %s exited %d", p.name, code)
	}
}

// metrics reads one gauge or counter per job from the process's /metrics: job → value.
func (p *proc) metrics(t *testing.T, name string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	resp, err := http.Get("http://" + p.httpAddr + "/metrics")
	if err != nil {
		return out // not serving yet: the callers poll
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, l := range strings.Split(string(page), "\n") {
		if !strings.HasPrefix(l, name+"{") {
			continue
		}
		labels := l[len(name)+1 : strings.IndexByte(l, '}')]
		var source, tenant string
		for _, kv := range strings.Split(labels, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch v = strings.Trim(v, `"`); k {
			case "source":
				source = v
			case "tenant":
				tenant = v
			}
		}
		v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
		if err == nil {
			out[tenant+"."+source] += v
		}
	}
	return out
}

// held is the jobs whose lease the process holds.
func (p *proc) held(t *testing.T) []string {
	t.Helper()
	var jobs []string
	for job, v := range p.metrics(t, "alertexport_lease_held") {
		if v == 1 {
			jobs = append(jobs, job)
		}
	}
	slices.Sort(jobs)
	return jobs
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// apiLog is the simulator's requests by job ("tenant.source"), in order of arrival.
func (w *world) apiLog() map[string][]sim.APIRequest {
	names := map[string]string{}
	for i, tn := range w.tenants {
		id := e2eTenant
		if i > 0 {
			id = fmt.Sprintf("5c0e2f4a-1b3d-4e5f-8a7b-%012d", i)
		}
		names[id] = tn.name
	}
	out := map[string][]sim.APIRequest{}
	for _, r := range w.srv.APIRequests() {
		if r.TokenID == "" {
			continue
		}
		job := names[r.TenantID] + "." + r.API
		out[job] = append(out[job], r)
	}
	for _, reqs := range out {
		slices.SortFunc(reqs, func(a, b sim.APIRequest) int { return a.Time.Compare(b.Time) })
	}
	return out
}

// checkNoOverlap: no job was polled by two replicas at once. Each replica takes its own token,
// so two tokens of one job with requests in flight at the same time are two replicas polling it.
func checkNoOverlap(t *testing.T, w *world) {
	t.Helper()
	for job, reqs := range w.apiLog() {
		for i, a := range reqs {
			for _, b := range reqs[i+1:] {
				if !b.Time.Before(a.Done) {
					break // sorted by arrival: nothing later overlaps a
				}
				if a.TokenID != b.TokenID {
					t.Errorf("%s was polled by two replicas at once: %s %s (%s–%s) and %s (%s–%s)", job, a.Path, a.TokenID[:6],
						a.Time.Format("15:04:05.000"), a.Done.Format("15:04:05.000"), b.TokenID[:6], b.Time.Format("15:04:05.000"), b.Done.Format("15:04:05.000"))
				}
			}
		}
	}
}

// TestCrashAtRandomPoints: the real binary is SIGKILLed six times at random points while it
// exports a backlog (and alerts keep arriving and changing), then runs to the end; the stream
// holds every version exactly once.
func TestCrashAtRandomPoints(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	w := newWorld(t, ns.ClientURL())
	now := time.Now()
	w.ep.Generate(2500, sim.EndpointGenerate{From: now.Add(-20 * time.Hour), To: now})
	w.ca.Generate(2500, sim.CloudAppsGenerate{From: now.Add(-20 * time.Hour), To: now})
	// Slow answers stretch the export over several seconds, so that the kills land inside it.
	slow := sim.FaultRates{Slow: 1, SlowDelay: 30 * time.Millisecond}
	w.ep.SetFaultRates(slow)
	w.ca.SetFaultRates(slow)
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill points seeded with %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for i := range 6 {
		p := w.spawn(t, fmt.Sprintf("crash%d", i))
		d := time.Duration(500+rng.IntN(5500)) * time.Millisecond
		time.Sleep(d) // the random point of the crash, not a synchronization
		p.kill(t)
		t.Logf("crash %d after %v: %d versions in the stream", i+1, d, len(streamMsgs(t, w.natsURL)))
		w.ep.Generate(5, sim.EndpointGenerate{})
		w.ep.UpdateRandom(3, 0)
		w.ca.Generate(3, sim.CloudAppsGenerate{})
		w.ca.CloseRandom(2, 0)
	}
	// What the API shows now; a version replaced before any poll could see it is not owed.
	all := w.expected()
	w.ep.SetFaultRates(sim.FaultRates{})
	w.ca.SetFaultRates(sim.FaultRates{})
	p := w.spawn(t, "final")
	if ok, _ := waitAll(w.natsURL, t, all, 90*time.Second); !ok {
		explainMissing(t, w, all)
	}
	checkStream(t, w, streamMsgs(t, w.natsURL), all)
	p.stop(t)
}

// TestFrozenReplicaStopsWithoutCheckpoint: a replica frozen (SIGSTOP) in the middle of its polls
// past its lease TTL loses its jobs to another replica; resumed (SIGCONT), it stops those polls
// without writing a checkpoint, and the stream still holds every version exactly once.
func TestFrozenReplicaStopsWithoutCheckpoint(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	w := newWorld(t, ns.ClientURL())
	now := time.Now()
	w.ep.Generate(300, sim.EndpointGenerate{From: now.Add(-5 * time.Hour), To: now})
	w.ca.Generate(300, sim.CloudAppsGenerate{From: now.Add(-5 * time.Hour), To: now})
	a := w.spawn(t, "a")
	all := w.expected()
	testutil.Eventually(t, 60*time.Second, "the backlog exported by a", hasAll(w.natsURL, t, all))
	testutil.Eventually(t, 20*time.Second, "a to hold both jobs", func() (bool, string) {
		held := a.held(t)
		return len(held) == 2, fmt.Sprint(held)
	})
	// Every answer now takes 1.5 s, so a is inside a request of each job most of the time.
	slow := sim.FaultRates{Slow: 1, SlowDelay: 1500 * time.Millisecond}
	w.ep.SetFaultRates(slow)
	w.ca.SetFaultRates(slow)
	testutil.Eventually(t, 10*time.Second, "a to send slowed requests", func() (bool, string) {
		reqs := w.srv.APIRequests()
		return len(reqs) > 0 && reqs[len(reqs)-1].Done.Sub(reqs[len(reqs)-1].Time) >= time.Second, ""
	})
	heldAtFreeze := a.held(t)
	frozen := time.Now()
	a.signal(t, syscall.SIGSTOP)

	w.ep.Generate(20, sim.EndpointGenerate{})
	w.ca.Generate(10, sim.CloudAppsGenerate{})
	w.addExpected(all)
	w.ep.SetFaultRates(sim.FaultRates{})
	w.ca.SetFaultRates(sim.FaultRates{})
	b := w.spawn(t, "b")
	testutil.Eventually(t, 60*time.Second, "b to take both jobs over and export what came", hasAll(w.natsURL, t, all))
	t.Logf("b took over %v after a froze (lease TTL 3 s)", time.Since(frozen).Round(time.Millisecond))

	a.signal(t, syscall.SIGCONT)
	testutil.Eventually(t, 20*time.Second, "a to give up the jobs it held", func() (bool, string) {
		lost := map[string]bool{}
		for _, l := range logLines(t, a, frozen) {
			if l.Msg == "lost the job's lease; stopping it here" {
				lost[l.Job] = true
			}
		}
		return len(lost) == len(heldAtFreeze), fmt.Sprintf("lost %v of %v", lost, heldAtFreeze)
	})
	// Woken, a wrote no checkpoint for a job until it took that job's lease again (b gives
	// one back, since a is alive).
	retaken := map[string]bool{}
	for _, l := range logLines(t, a, frozen) {
		switch l.Msg {
		case "took the job's lease":
			retaken[l.Job] = true
		case "checkpoint saved":
			if job := l.Tenant + "." + l.Source; !retaken[job] {
				t.Errorf("a saved the checkpoint of %s after it woke, without the lease", job)
			}
		}
	}
	if a.exited() {
		t.Error("a exited instead of staying a follower")
	}
	// And the export goes on, once.
	w.ep.Generate(5, sim.EndpointGenerate{})
	w.addExpected(all)
	testutil.Eventually(t, 30*time.Second, "new alerts exported after a woke", hasAll(w.natsURL, t, all))
	checkStream(t, w, streamMsgs(t, w.natsURL), all)
	checkNoOverlap(t, w)
	a.stop(t)
	b.stop(t)
}

// logLine is what the tests read of a JSON log line.
type logLine struct {
	Time   time.Time `json:"time"`
	Msg    string    `json:"msg"`
	Job    string    `json:"job"`
	Tenant string    `json:"tenant"`
	Source string    `json:"source"`
}

// logLines is the process's log lines written after since.
func logLines(t *testing.T, p *proc, since time.Time) []logLine {
	t.Helper()
	var out []logLine
	for _, s := range strings.Split(p.stderr.String(), "\n") {
		var l logLine
		if json.Unmarshal([]byte(s), &l) == nil && l.Time.After(since) {
			out = append(out, l)
		}
	}
	return out
}

// TestThreeReplicasShareTheJobs: three processes on one JetStream share six jobs (three
// tenants × two sources), two each; no job is polled by two at once; the lease holder of two
// jobs is killed, and the others take its jobs within the TTL plus one interval; every version
// arrives exactly once.
func TestThreeReplicasShareTheJobs(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	w := newWorldN(t, ns.ClientURL(), 3)
	now := time.Now()
	slow := sim.FaultRates{Slow: 1, SlowDelay: 20 * time.Millisecond} // polls take a while, so overlaps would show
	for _, tn := range w.tenants {
		tn.ep.Generate(600, sim.EndpointGenerate{From: now.Add(-20 * time.Hour), To: now})
		tn.ca.Generate(600, sim.CloudAppsGenerate{From: now.Add(-20 * time.Hour), To: now})
		tn.ep.SetFaultRates(slow)
		tn.ca.SetFaultRates(slow)
	}
	all := w.expected()
	var ps []*proc
	for i := range 3 {
		ps = append(ps, w.spawn(t, fmt.Sprintf("r%d", i)))
	}
	testutil.Eventually(t, 60*time.Second, "the jobs to spread two per replica", func() (bool, string) {
		var state []string
		ok := true
		for _, p := range ps {
			held := p.held(t)
			ok = ok && len(held) == 2
			state = append(state, fmt.Sprintf("%s:%v", p.name, held))
		}
		return ok, strings.Join(state, " ")
	})
	victim := ps[0]
	lost := victim.held(t)
	victim.kill(t)
	killed := time.Now()
	for _, tn := range w.tenants {
		tn.ep.Generate(10, sim.EndpointGenerate{})
		tn.ep.UpdateRandom(5, 0)
		tn.ca.Generate(5, sim.CloudAppsGenerate{})
	}
	// What the API shows now; a version replaced before any poll could see it is not owed.
	all = w.expected()
	testutil.Eventually(t, 90*time.Second, "every version exported", hasAll(w.natsURL, t, all))
	checkStream(t, w, streamMsgs(t, w.natsURL), all)
	checkNoOverlap(t, w)

	// The killed replica's jobs moved within the TTL (3 s) plus one interval (1 s), and a
	// little for the poll's first request to arrive.
	log := w.apiLog()
	for _, job := range lost {
		var first time.Time
		for _, r := range log[job] {
			if r.Time.After(killed) {
				first = r.Time
				break
			}
		}
		if first.IsZero() {
			t.Errorf("%s was never polled after its holder died", job)
			continue
		}
		took := first.Sub(killed)
		t.Logf("%s taken over %v after its holder died", job, took.Round(time.Millisecond))
		if took > 3*time.Second+time.Second+2*time.Second {
			t.Errorf("%s was taken over %v after its holder died, want within the TTL (3 s) + one interval (1 s), +2 s slack", job, took)
		}
	}
	// The survivors even out: a replica holding more than its share gives a lease back
	// only between its polls, so this is waited for, not read once.
	testutil.Eventually(t, 30*time.Second, "the survivors to hold three jobs each", func() (bool, string) {
		var state []string
		ok := true
		for _, p := range ps[1:] {
			held := p.held(t)
			ok = ok && len(held) == 3
			state = append(state, fmt.Sprintf("%s:%v", p.name, held))
		}
		return ok, strings.Join(state, " ")
	})
	for _, p := range ps[1:] {
		p.stop(t)
	}
}

// waitAll waits until the stream holds every version of want.
func waitAll(url string, t *testing.T, want map[string]bool, within time.Duration) (bool, string) {
	t.Helper()
	cond := hasAll(url, t, want)
	deadline := time.Now().Add(within)
	for {
		ok, state := cond()
		if ok || time.Now().After(deadline) {
			return ok, state
		}
		time.Sleep(50 * time.Millisecond) // polling a condition, not synchronizing
	}
}

// explainMissing fails the test with, for each missing version, what the stream and the
// simulator have of that alert.
func explainMissing(t *testing.T, w *world, want map[string]bool) {
	t.Helper()
	have := map[string][]string{}
	for _, m := range streamMsgs(t, w.natsURL) {
		id := m.Header.Get("Nats-Msg-Id")
		alert := id[:strings.LastIndexByte(id, '.')]
		have[alert] = append(have[alert], id[strings.LastIndexByte(id, '.')+1:]+"/"+m.Header.Get("Alert-Event"))
	}
	n := 0
	for id := range want {
		alert := id[:strings.LastIndexByte(id, '.')]
		if slices.ContainsFunc(have[alert], func(v string) bool { return strings.HasPrefix(v, id[len(alert)+1:]+"/") }) {
			continue
		}
		n++
		if n > 10 {
			continue
		}
		var versions []string
		for _, v := range w.ca.Versions() {
			if strings.HasSuffix(alert, "."+v.ID) {
				versions = append(versions, fmt.Sprintf("%d(visible %s, res %d)", v.Version.UnixMilli(), v.VisibleAt.Format("15:04:05.000"), v.ResolutionStatus))
			}
		}
		t.Errorf("missing %s; the stream has %v; the simulator has %v", id, have[alert], versions)
	}
	t.Errorf("%d versions missing", n)
}

// setWorker replaces lease_ttl and the default schedule in the world's config.
func (w *world) setWorker(t *testing.T, leaseTTL, schedule string) {
	t.Helper()
	for old, repl := range map[string]string{`lease_ttl = "3s"`: fmt.Sprintf("lease_ttl = %q", leaseTTL), `schedule = "@every 1s"`: fmt.Sprintf("schedule = %q", schedule)} {
		if !strings.Contains(w.doc, old) {
			t.Fatalf("the config has no %s", old)
		}
		w.doc = strings.Replace(w.doc, old, repl, 1)
	}
	if err := os.WriteFile(w.config, []byte(w.doc), 0o600); err != nil {
		t.Fatal(err)
	}
}

// firstPolls is, for each job, the arrival of its first API request after since with a token
// not used before since: a process started then (each process takes tokens of its own; a
// request a killed process had sent may still be read after its death).
func (w *world) firstPolls(since time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	for job, reqs := range w.apiLog() {
		before := map[string]bool{}
		for _, r := range reqs {
			if !r.Time.After(since) {
				before[r.TokenID] = true
			} else if !before[r.TokenID] {
				out[job] = r.Time
				break
			}
		}
	}
	return out
}

// TestRestartedReplicaTakesItsJobsBack: a replica SIGKILLed five times and each time restarted
// on its data_dir polls both jobs again within one schedule interval (10 s; it takes about half
// a second) of each restart — it takes its previous run's leases back at once instead of waiting
// out lease_ttl (30 s) — and the stream ends with every version once, no job ever polled by two
// processes at once.
func TestRestartedReplicaTakesItsJobsBack(t *testing.T) {
	t.Parallel()
	const interval, restarts = 10 * time.Second, 5
	ns := natstest.Start(t)
	w := newWorld(t, ns.ClientURL())
	w.setWorker(t, "30s", "@every 10s")
	now := time.Now()
	w.ep.Generate(200, sim.EndpointGenerate{From: now.Add(-5 * time.Hour), To: now})
	w.ca.Generate(200, sim.CloudAppsGenerate{From: now.Add(-5 * time.Hour), To: now})
	jobs := []string{"contoso.endpoint", "contoso.cloudapps"}
	started := time.Now()
	p := w.spawnIn(t, "run0", "replica")
	var worst time.Duration
	for i := 0; ; i++ {
		testutil.Eventually(t, 90*time.Second, fmt.Sprintf("run %d to poll both jobs", i), func() (bool, string) {
			first := w.firstPolls(started)
			return len(first) == len(jobs), fmt.Sprint(first)
		})
		if i > 0 {
			first := w.firstPolls(started)
			for _, job := range jobs {
				took := first[job].Sub(started)
				worst = max(worst, took)
				t.Logf("restart %d: %s polled %v after the restart", i, job, took.Round(time.Millisecond))
				if took > interval {
					t.Errorf("restart %d: %s polled %v after the restart, want within one interval (%v)", i, job, took, interval)
				}
			}
			took := map[string]bool{}
			for _, l := range logLines(t, p, started) {
				if l.Msg == "took back the job's lease from this replica's previous run" {
					took[l.Job] = true
				}
			}
			if len(took) != len(jobs) {
				t.Errorf("restart %d: took back %v, want both jobs", i, took)
			}
		}
		if i == restarts {
			break
		}
		p.kill(t)
		w.ep.Generate(5, sim.EndpointGenerate{})
		w.ep.UpdateRandom(3, 0)
		w.ca.Generate(3, sim.CloudAppsGenerate{})
		w.ca.CloseRandom(2, 0)
		started = time.Now()
		p = w.spawnIn(t, fmt.Sprintf("run%d", i+1), "replica")
	}
	t.Logf("restart to first poll: at most %v over %d restarts (interval %v, lease_ttl 30 s)", worst.Round(time.Millisecond), restarts, interval)
	all := w.expected()
	testutil.Eventually(t, 60*time.Second, "every version exported", hasAll(w.natsURL, t, all))
	checkStream(t, w, streamMsgs(t, w.natsURL), all)
	checkNoOverlap(t, w)
	p.stop(t)
}

// TestSecondProcessOnADataDirIsRefused: a second `run` on the data_dir of a live one exits 1
// at once, naming the data_dir and saying that each replica needs its own; the first goes on.
func TestSecondProcessOnADataDirIsRefused(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	w := newWorld(t, ns.ClientURL())
	w.ep.Generate(10, sim.EndpointGenerate{})
	a := w.spawnIn(t, "a", "shared")
	testutil.Eventually(t, 30*time.Second, "a to hold both jobs", func() (bool, string) {
		held := a.held(t)
		return len(held) == 2, fmt.Sprint(held)
	})
	b := w.spawnIn(t, "b", "shared")
	select {
	case <-b.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the second process on one data_dir did not exit")
	}
	if code := b.cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("the second process exited %d, want 1", code)
	}
	for _, want := range []string{"data_dir is in use by another alertexport process", filepath.Join(w.dir, "data-shared"), "a data_dir of its own"} {
		if !strings.Contains(b.stderr.String(), want) {
			t.Errorf("the second process's error does not say %q:\n%s", want, b.stderr.String())
		}
	}
	if a.exited() || len(a.held(t)) != 2 {
		t.Errorf("the first process stopped or lost its jobs (exited %v, holds %v)", a.exited(), a.held(t))
	}
	a.stop(t)
}

// versionsVisibleFor is the message ID of every version the simulator has shown for at least d
// since from (a backlog is generated with past times, but shown only from when it was made); an
// alert's current version is still shown, so it counts whatever its age.
func (w *world) versionsVisibleFor(d time.Duration, from time.Time) map[string]bool {
	want := map[string]bool{}
	horizon := time.Now().Add(time.Minute) // what is indexed late is visible by the time the test looks
	shown := func(at, until time.Time) bool { return until.Sub(later(at, from)) >= d }
	for _, tn := range w.tenants {
		eps := tn.ep.Versions() // each alert's versions in the order stored
		for i, v := range eps {
			if i+1 < len(eps) && eps[i+1].ID == v.ID && !shown(v.VisibleAt, eps[i+1].VisibleAt) {
				continue
			}
			want[envelope.MsgID(tn.name, "endpoint", v.ID, v.LastUpdateTime)] = true
		}
		cas := tn.ca.Versions()
		for i, v := range cas {
			if i+1 < len(cas) && cas[i+1].ID == v.ID && !shown(v.VisibleAt, cas[i+1].VisibleAt) || v.VisibleAt.After(horizon) {
				continue
			}
			want[envelope.MsgID(tn.name, "cloudapps", v.ID, v.Version)] = true
		}
	}
	return want
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// TestCrashLoopExportsEveryVersionOnce: the crash loop of a pod in CrashLoopBackOff. For about a
// minute the replica is SIGKILLed every 2 s and restarted on its data_dir, NATS is restarted
// twice, and 10 % of the API's answers are faults, while alerts arrive, change and close; then
// it runs on. The runs keep polling, and every version the API showed for 30 s is in the stream
// exactly once. (The backlog is exported first: a version replaced while the export still
// catches up is not owed.)
func TestCrashLoopExportsEveryVersionOnce(t *testing.T) {
	t.Parallel()
	const soak, every = 60 * time.Second, 2 * time.Second
	opts := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true}
	ns := startNATS(t, opts)
	opts.Port = ns.Addr().(*net.TCPAddr).Port // restarts come back where clients look
	w := newWorld(t, fmt.Sprintf("nats://127.0.0.1:%d", opts.Port))
	w.setWorker(t, "30s", "@every 1s")
	w.srv.SetCloudAppsRetryAfter(true) // a 429 without it holds Cloud Apps back a whole minute
	now := time.Now()
	w.ep.Generate(200, sim.EndpointGenerate{From: now.Add(-5 * time.Hour), To: now})
	w.ca.Generate(100, sim.CloudAppsGenerate{From: now.Add(-5 * time.Hour), To: now})
	p := w.spawnIn(t, "run0", "replica")
	testutil.Eventually(t, 60*time.Second, "the backlog exported", hasAll(w.natsURL, t, w.expected()))

	faults := sim.FaultRates{ServerError: 0.05, Throttle: 0.02, Truncate: 0.03}
	w.ep.SetFaultRates(faults)
	w.ca.SetFaultRates(faults)
	start := time.Now()
	kills, natsRestarts, late, polled := 0, 0, 0, 0
	spawned := start
	for i := 1; time.Since(start) < soak; i++ {
		if i%10 == 0 { // NATS goes away and comes back in the middle of this run
			time.Sleep(every / 2) // the schedule of the crashes, not a synchronization
			ns.Shutdown()
			ns.WaitForShutdown()
			ns = startNATS(t, opts)
			natsRestarts++
			time.Sleep(every / 2)
		} else {
			time.Sleep(every)
		}
		// A run is not killed before its worker started: on a machine too busy to start the
		// process within 2 s, the test would prove nothing but that.
		if !strings.Contains(p.stderr.String(), `"msg":"worker started"`) {
			late++
			testutil.Eventually(t, 60*time.Second, fmt.Sprintf("run %d to start", i-1), func() (bool, string) {
				return strings.Contains(p.stderr.String(), `"msg":"worker started"`), ""
			})
		}
		if len(w.firstPolls(spawned)) == 2 {
			polled++
		}
		p.kill(t)
		kills++
		w.ep.Generate(4, sim.EndpointGenerate{})
		w.ep.UpdateRandom(3, 0)
		w.ca.Generate(2, sim.CloudAppsGenerate{})
		w.ca.CloseRandom(1, 0)
		spawned = time.Now()
		p = w.spawnIn(t, fmt.Sprintf("run%d", i), "replica")
	}
	soaked := time.Now()
	want := w.versionsVisibleFor(30*time.Second, start)
	ok, state := waitAll(w.natsURL, t, want, 90*time.Second)
	msgs := streamMsgs(t, w.natsURL)
	count := map[string]int{}
	for _, m := range msgs {
		count[m.Header.Get("Nats-Msg-Id")]++
	}
	lost, dups := 0, 0
	for id := range want {
		if count[id] == 0 {
			lost++
		}
	}
	for _, n := range count {
		dups += n - 1
	}
	t.Logf("%d kills every %v (%d waited for the worker to start; %d runs polled both jobs before the kill) and %d NATS restarts over %v, 10 %% API faults; %d versions visible for 30 s: %d lost, %d duplicated (%d messages); drained %v after the last kill",
		kills, every, late, polled, natsRestarts, soaked.Sub(start).Round(time.Second), len(want), lost, dups, len(msgs), time.Since(soaked).Round(time.Millisecond))
	if !ok {
		t.Errorf("not every version visible for 30 s was exported: %s", state)
		explainMissing(t, w, want)
	}
	// The crash loop must not stop the export: each run takes the jobs back at once and polls
	// (waiting out lease_ttl, next to no run did).
	if polled < kills/2 {
		t.Errorf("only %d of %d runs polled both jobs before they were killed 2 s after their start", polled, kills)
	}
	checkStream(t, w, msgs, want)
}
