package worker

import (
	"hash/fnv"
	"time"

	"github.com/robfig/cron/v3"
)

// Phase is where in its interval every a job's "@every" polls fall: a whole second of the
// interval drawn from the job's tenant and source. With one phase for all, the jobs of many
// tenants polled at the same instant: 2,000 jobs at "@every 1m" made a burst each minute that
// started the last polls a second late and took 280 MiB. Spread, about as many start in each
// second of the minute (docs/configuration.md). Whole seconds, because the scheduler wakes
// once for each distinct time and looks at every job then.
func Phase(tenant, source string, every time.Duration) time.Duration {
	seconds := uint64(every / time.Second)
	if seconds == 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(tenant + "/" + source))
	return time.Duration(h.Sum64()%seconds) * time.Second
}

// splay is the schedule the worker runs for s: an "@every d" schedule fires at the start's whole
// second + phase + k·d (k ≥ 1), so a job's second poll comes about d after the first (which runs
// at start); a cron expression keeps the wall-clock times the operator chose. Whole seconds, as
// robfig/cron's own "@every": the lease renewals tick every TTL/3 from the start, and a poll
// due at the same instant would always be running when a renewal looks for an idle lease to give
// back to a replica that joined.
func splay(s cron.Schedule, tenant, source string, start time.Time) cron.Schedule {
	every, ok := s.(cron.ConstantDelaySchedule)
	if !ok {
		return s
	}
	return phased{every: every.Delay, anchor: start.Truncate(time.Second).Add(Phase(tenant, source, every.Delay))}
}

// phased fires at anchor + k·every, k ≥ 1.
type phased struct {
	every  time.Duration
	anchor time.Time
}

// Next implements cron.Schedule.
func (p phased) Next(t time.Time) time.Time {
	k := int64(1)
	if d := t.Sub(p.anchor); d >= p.every {
		k = int64(d/p.every) + 1
	}
	return p.anchor.Add(time.Duration(k) * p.every)
}

// firstPerSecond is about how many first polls start in a second when a worker with many jobs
// starts: 2,000 at once held 200 MiB of heap between them.
const firstPerSecond = 200

// firstDelay is how long after the start job's first poll waits: none for a worker of up to
// firstPerSecond jobs; with more, the first polls are spread over one second per
// firstPerSecond jobs (at most the job's interval), each at its phase there.
func firstDelay(tenant, source string, jobs int, every time.Duration) time.Duration {
	spread := min(time.Duration(jobs/firstPerSecond)*time.Second, every)
	return Phase(tenant, source, spread)
}
