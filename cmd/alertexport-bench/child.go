package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopTimeout bounds a clean stop of the child: its own grace for running polls is 10 s and
// draining NATS 10 s more.
const stopTimeout = 30 * time.Second

// buildBinary builds cmd/alertexport into dir and returns its path.
func buildBinary(ctx context.Context, dir string) (string, error) {
	bin := dir + "/alertexport"
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/alertexport/alertexport/cmd/alertexport")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/alertexport: %w\n%s", err, out)
	}
	return bin, nil
}

// child is one `alertexport run` (or backfill) process.
type child struct {
	name    string // "alertexport run", "alertexport backfill"
	cmd     *exec.Cmd
	started time.Time
	logPath string
	metrics string // its /metrics URL
	exited  chan struct{}
	waitErr error

	mu      sync.Mutex
	peakKiB int64 // the largest VmHWM seen
}

// usage is what the kernel counted for an exited child. The peak RSS is the largest VmHWM
// sampled while it ran, not rusage's ru_maxrss: os/exec starts the child with vfork, and Linux
// carries the high-water mark of the memory it shared with the parent (this bench, holding the
// simulator's alerts) over the exec into ru_maxrss.
type usage struct {
	maxRSSKiB int64
	user, sys time.Duration
}

// startChild runs bin with args (`run --config FILE`, or backfill) and its output in logPath;
// httpAddr is where a run serves /metrics; env is added to its environment.
func startChild(bin string, args []string, logPath, httpAddr string, env ...string) (*child, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("child log: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), secretEnv+"="+clientSecret), env...)
	cmd.Stdout, cmd.Stderr = f, f
	c := &child{name: "alertexport " + args[0], cmd: cmd, logPath: logPath, metrics: "http://" + httpAddr + "/metrics", exited: make(chan struct{})}
	c.started = time.Now()
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		c.waitErr = cmd.Wait()
		f.Close()
		close(c.exited)
	}()
	go c.samplePeak(50 * time.Millisecond)
	return c, nil
}

// samplePeak keeps the child's VmHWM (its peak RSS since exec) until it exits.
func (c *child) samplePeak(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, hwm, err := procStatus(c.pid()); err == nil {
			c.mu.Lock()
			c.peakKiB = max(c.peakKiB, hwm)
			c.mu.Unlock()
		}
		select {
		case <-c.exited:
			return
		case <-t.C:
		}
	}
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// alive reports an error when the child has exited.
func (c *child) alive() error {
	select {
	case <-c.exited:
		return fmt.Errorf("%s exited early (%v); the end of its log:\n%s", c.name, c.waitErr, c.logTail())
	default:
		return nil
	}
}

// stop sends SIGTERM and waits for the exit (SIGKILL after stopTimeout); it returns the
// child's rusage. A stop that is not clean is an error, with the end of the child's log.
func (c *child) stop() (usage, error) {
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return usage{}, fmt.Errorf("SIGTERM: %w", err)
	}
	var err error
	select {
	case <-c.exited:
	case <-time.After(stopTimeout):
		_ = c.cmd.Process.Kill()
		<-c.exited
		err = fmt.Errorf("%s did not stop within %v of SIGTERM; killed", c.name, stopTimeout)
	}
	if err == nil && c.waitErr != nil {
		err = fmt.Errorf("%s: %w", c.name, c.waitErr)
	}
	if err != nil {
		err = fmt.Errorf("%w; the end of its log:\n%s", err, c.logTail())
	}
	ru, ok := c.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return usage{}, errors.Join(err, errors.New("no rusage for the child (Linux only)"))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return usage{
		maxRSSKiB: c.peakKiB,
		user:      time.Duration(ru.Utime.Nano()),
		sys:       time.Duration(ru.Stime.Nano()),
	}, err
}

// kill ends a child that is still running (a failed run); it is a no-op after stop.
func (c *child) kill() {
	select {
	case <-c.exited:
	default:
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// logTail is the last lines of the child's log.
func (c *child) logTail() string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return string(bytes.Join(lines[max(0, len(lines)-20):], []byte("\n")))
}

// scrape reads the child's /metrics.
func (c *child) scrape(ctx context.Context) (promPage, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.metrics, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping the child's /metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scraping the child's /metrics: %s", resp.Status)
	}
	return parseProm(resp.Body)
}

// procStatus reads VmRSS and VmHWM (KiB) of pid from /proc.
func procStatus(pid int) (rssKiB, hwmKiB int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status %s: %w", pid, k, err)
		}
		if k == "VmRSS" {
			rssKiB = n
		} else {
			hwmKiB = n
		}
	}
	return rssKiB, hwmKiB, sc.Err()
}

// waitUntil polls cond every `every` until it holds, ctx ends or the child exits.
func waitUntil(ctx context.Context, c *child, every time.Duration, what string, cond func(context.Context) (bool, error)) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		ok, err := cond(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ok {
			return nil
		}
		if err := c.alive(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
