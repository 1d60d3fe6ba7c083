package endpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/apis"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/page"
)

// BenchmarkDecodeNormalize is the per-alert CPU cost of a poll: decoding one alert (the
// documented example, with evidence) and building its envelope.
func BenchmarkDecodeNormalize(b *testing.B) {
	raw, err := os.ReadFile("testdata/alerts/documented.json")
	if err != nil {
		b.Fatal(err)
	}
	var c bytes.Buffer
	if err := json.Compact(&c, raw); err != nil {
		b.Fatal(err)
	}
	raw = c.Bytes()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		var a alert
		if err := page.Unmarshal(raw, &a); err != nil {
			b.Fatal(err)
		}
		if _, err := normalize(&a, raw, testIdentity, envelope.Created); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodePage is the CPU cost of taking in a page, without the network: 1,000
// simulated alerts (with evidence) streamed off an in-memory body. normalize is the product's
// work: decoded and normalized. The others take it apart and set it beside what the bench's
// pass-through exporter does with the same page (cmd/alertexport-bench): cut is each alert's
// bytes cut out (page.Decode), version that and its id and lastUpdateTime read (page.Version),
// decode the alerts decoded without normalizing.
func BenchmarkDecodePage(b *testing.B) {
	f := newFixture(b, setup{})
	now := f.Clock.Now()
	f.ep.Generate(1000, sim.EndpointGenerate{From: now.Add(-time.Hour), To: now})
	src := f.newSource(Options{})
	var body []byte
	err := src.api.Get(context.Background(), src.query(window{upd: span{lo: now.Add(-2 * time.Hour)}}, 0), func(r io.Reader) error {
		var err error
		body, err = io.ReadAll(r)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	cut := func(each func(raw []byte) error) func() (int, error) {
		return func() (n int, err error) {
			_, err = page.Decode(bytes.NewReader(body), "value", func(raw []byte, err error) error {
				n++
				if err != nil {
					return err
				}
				return each(raw)
			})
			return n, err
		}
	}
	decode := func(each func(raw []byte, a *alert) error) func() (int, error) {
		return func() (n int, err error) {
			_, err = page.DecodeInto(bytes.NewReader(body), "value", func(raw []byte, a *alert, err error) error {
				n++
				if err != nil {
					return err
				}
				return each(raw, a)
			})
			return n, err
		}
	}
	for _, bc := range []struct {
		name string
		run  func() (int, error)
	}{
		{"cut", cut(func([]byte) error { return nil })},
		{"version", cut(func(raw []byte) error {
			if _, _, ok := page.Version(raw, "lastUpdateTime"); !ok {
				return errNoVersion
			}
			return nil
		})},
		{"decode", decode(func([]byte, *alert) error { return nil })},
		{"normalize", decode(func(raw []byte, a *alert) error {
			_, err := normalize(a, raw, testIdentity, envelope.Created)
			return err
		})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if n, err := bc.run(); err != nil || n != 1000 {
					b.Fatalf("%d alerts: %v", n, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/alert")
		})
	}
}

// BenchmarkPoll10000 is one poll that takes in a whole 10,000-alert page (with evidence) from
// the simulator: HTTPS, streaming decode, normalization, dedup. It reports alerts/s.
func BenchmarkPoll10000(b *testing.B) {
	benchmarkPoll(b, false)
}

// BenchmarkPoll10000Memory is the same poll, measuring the peak live heap while the page is
// consumed (collecting often, so it runs slower: its time is not the throughput).
func BenchmarkPoll10000Memory(b *testing.B) {
	benchmarkPoll(b, true)
}

func benchmarkPoll(b *testing.B, memory bool) {
	f := newFixture(b, setup{})
	now := f.Clock.Now()
	f.ep.Generate(apis.Endpoint.PageCap, sim.EndpointGenerate{From: now.Add(-time.Hour), To: now})
	src := f.newSource(Options{})
	ctx := context.Background()
	var peak uint64
	n := 0
	poll := func() {
		err := src.Poll(ctx, sources.Checkpoint{}, func(_ context.Context, bt sources.Batch) error {
			n += len(bt.Messages)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if memory {
			peak = max(peak, peakHeapGrowth(poll))
		} else {
			poll()
		}
	}
	if n != b.N*apis.Endpoint.PageCap {
		b.Fatalf("%d alerts in %d polls", n, b.N)
	}
	if memory {
		b.ReportMetric(float64(peak)/(1<<20), "peak-live-heap-MiB")
	} else {
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "alerts/s")
	}
}

// peakHeapGrowth returns the peak of the live heap (what the garbage collector found in use)
// above where it was before fn ran. The simulator shares the process and its stored alerts are
// not the source's memory; and with them in the heap the collector would let garbage pile up in
// proportion, so collection runs often (GOGC=10) to sample the live heap many times over.
func peakHeapGrowth(fn func()) uint64 {
	read := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	base := read()
	done := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		high := base
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			high = max(high, read())
			select {
			case <-done:
				peak <- high
				return
			case <-t.C:
			}
		}
	}()
	fn()
	close(done)
	return <-peak - base
}
