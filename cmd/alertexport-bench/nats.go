package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The stream the child publishes to (the config's default) and the one the raw publisher uses.
const (
	alertsStream = "ALERTS"
	rawStream    = "RAW"
	alertsPrefix = "alerts." // the default subject's first token
	rawPrefix    = "rawpub." // as long, so that subjects keep their size
)

// natsServer is the bench's NATS server and its own connection to it.
type natsServer struct {
	srv *server.Server
	nc  *nats.Conn
	js  jetstream.JetStream
}

// startNATS runs nats-server in this process: JetStream on file storage in dir, 127.0.0.1 on a
// random port, otherwise the server's defaults.
// maxPayload > 0 replaces the server's max_payload (1 MiB by default).
func startNATS(dir string, maxPayload int32) (*natsServer, error) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: dir, NoLog: true, NoSigs: true, MaxPayload: maxPayload})
	if err != nil {
		return nil, fmt.Errorf("nats-server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("nats-server not ready after 10 s")
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("connecting to the bench's nats-server: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		srv.Shutdown()
		return nil, err
	}
	return &natsServer{srv: srv, nc: nc, js: js}, nil
}

func (n *natsServer) url() string { return n.srv.ClientURL() }

func (n *natsServer) close() {
	n.nc.Close()
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
}

// streamState is the state of stream name; a stream not created yet has no messages.
func (n *natsServer) streamState(ctx context.Context, name string) (jetstream.StreamState, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := n.js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return jetstream.StreamState{}, nil
	}
	if err != nil {
		return jetstream.StreamState{}, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return jetstream.StreamState{}, err
	}
	return info.State, nil
}

// waitStored waits until stream name holds want messages and returns when the server stored
// the last one. A stream that does not grow for stall is an export that is stuck: the error
// carries the end of the child's log.
func (n *natsServer) waitStored(ctx context.Context, c *child, name string, want uint64, stall time.Duration) (time.Time, error) {
	var last time.Time
	var have uint64
	grew := time.Now()
	err := waitUntil(ctx, c, 10*time.Millisecond, fmt.Sprintf("waiting for %d messages in stream %s", want, name),
		func(ctx context.Context) (bool, error) {
			s, err := n.streamState(ctx, name)
			if err != nil {
				return false, err
			}
			if s.Msgs != have {
				have, grew = s.Msgs, time.Now()
			}
			if time.Since(grew) > stall {
				return false, fmt.Errorf("the export is stuck: the stream has held %d messages for %v; the end of the child's log:\n%s",
					have, stall, c.logTail())
			}
			last = s.LastTime
			return s.Msgs >= want, nil
		})
	return last, err
}

// waitExit waits until the child (a backfill) exits and returns when the server stored the last
// message of stream name. A stream that does not grow for stall while the child runs is an
// export that is stuck.
func (n *natsServer) waitExit(ctx context.Context, c *child, name string, stall time.Duration) (time.Time, error) {
	var have uint64
	grew := time.Now()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("waiting for %s to finish: %w", c.name, context.Cause(ctx))
		case <-c.exited:
			s, err := n.streamState(ctx, name)
			return s.LastTime, err
		case <-t.C:
		}
		s, err := n.streamState(ctx, name)
		if err != nil {
			return time.Time{}, err
		}
		if s.Msgs != have {
			have, grew = s.Msgs, time.Now()
		}
		if time.Since(grew) > stall {
			return time.Time{}, fmt.Errorf("the export is stuck: the stream has held %d messages for %v; the end of the child's log:\n%s",
				have, stall, c.logTail())
		}
	}
}

// readBack returns every message of stream name (subject, headers, body), in order.
func (n *natsServer) readBack(ctx context.Context, name string) ([]*nats.Msg, error) {
	st, err := n.js.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	total := st.CachedInfo().State.Msgs
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, err
	}
	defer it.Stop()
	out := make([]*nats.Msg, 0, total)
	for uint64(len(out)) < total {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		m, err := it.Next(jetstream.NextContext(rctx))
		cancel()
		if err != nil {
			return nil, fmt.Errorf("reading back stream %s (%d of %d): %w", name, len(out), total, err)
		}
		out = append(out, &nats.Msg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data()})
	}
	return out, nil
}

// rawResult is the raw publisher's measurement.
type rawResult struct {
	elapsed  time.Duration
	msgs     int
	avgBytes float64 // body bytes a message
}

// publishRaw publishes msgs to a new stream configured as ALERTS (file storage, the same
// duplicate window and limits) under subjects of the same length, with PublishMsgAsync and
// their Nats-Msg-Id, at most pending outstanding, and times it until every ack is back.
// JetStream deduplicates per stream, so the product's IDs are fresh in RAW and keep the
// headers the same size.
func (n *natsServer) publishRaw(ctx context.Context, msgs []*nats.Msg, pending int, cpuProfile string) (rawResult, error) {
	cfg, err := n.copyStreamConfig(ctx, rawStream, rawPrefix)
	if err != nil {
		return rawResult{}, err
	}
	if _, err := n.js.CreateStream(ctx, cfg); err != nil {
		return rawResult{}, fmt.Errorf("creating stream %s: %w", rawStream, err)
	}
	raw := make([]*nats.Msg, len(msgs))
	bytes := 0
	for i, m := range msgs {
		raw[i] = &nats.Msg{Subject: rawPrefix + strings.TrimPrefix(m.Subject, alertsPrefix), Header: m.Header, Data: m.Data}
		bytes += len(m.Data)
	}
	// A connection and JetStream context of the publisher's own, as the child has.
	nc, err := nats.Connect(n.url())
	if err != nil {
		return rawResult{}, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(pending))
	if err != nil {
		return rawResult{}, err
	}
	stopProfile, err := startProfile(cpuProfile)
	if err != nil {
		return rawResult{}, err
	}
	start := time.Now()
	futures, err := publishAll(ctx, js, raw)
	if err == nil {
		err = awaitAll(ctx, js, futures)
	}
	elapsed := time.Since(start)
	stopProfile()
	if err != nil {
		return rawResult{}, err
	}
	s, err := n.streamState(ctx, rawStream)
	if err != nil {
		return rawResult{}, err
	}
	if s.Msgs != uint64(len(msgs)) {
		return rawResult{}, fmt.Errorf("stream %s holds %d messages after %d acks", rawStream, s.Msgs, len(msgs))
	}
	return rawResult{elapsed: elapsed, msgs: len(msgs), avgBytes: float64(bytes) / float64(max(1, len(msgs)))}, nil
}

// copyStreamConfig is ALERTS's config under another name and subjects (prefix instead of
// "alerts.").
func (n *natsServer) copyStreamConfig(ctx context.Context, name, prefix string) (jetstream.StreamConfig, error) {
	st, err := n.js.Stream(ctx, alertsStream)
	if err != nil {
		return jetstream.StreamConfig{}, err
	}
	cfg := st.CachedInfo().Config
	cfg.Name = name
	for i, s := range cfg.Subjects {
		cfg.Subjects[i] = prefix + strings.TrimPrefix(s, alertsPrefix)
	}
	return cfg, nil
}

// publishAll sends every message asynchronously; a full window waits for acks (stall wait).
func publishAll(ctx context.Context, js jetstream.JetStream, msgs []*nats.Msg) ([]jetstream.PubAckFuture, error) {
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, m := range msgs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// The header carries Nats-Msg-Id already; setting it again would write to a map (d)
		// later sends as it is.
		f, err := js.PublishMsgAsync(m, jetstream.WithStallWait(30*time.Second))
		if err != nil {
			return nil, fmt.Errorf("raw publish %d of %d: %w", len(futures)+1, len(msgs), err)
		}
		futures = append(futures, f)
	}
	return futures, nil
}

// awaitAll waits until nothing is pending and checks that every future was acked.
func awaitAll(ctx context.Context, js jetstream.JetStream, futures []jetstream.PubAckFuture) error {
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return fmt.Errorf("waiting for the raw publisher's acks: %w", context.Cause(ctx))
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("raw publish %d: %w", i+1, err)
		}
	}
	return nil
}

// startProfile starts a CPU profile into path ("" = none) and returns what stops it.
func startProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("CPU profile %s: %w", path, err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
