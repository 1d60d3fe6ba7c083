package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertexport/alertexport/config"
	"github.com/alertexport/alertexport/sources/auth"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/httpclient"
	"github.com/alertexport/alertexport/sources/page"
)

// The pass-throughs' streams, each with its subjects' first token, as long as "alerts." so that
// subjects keep their size: (c) publishes each alert as it came, (d) the product's own message
// for it; the warm-up, untimed, is (c) again.
const (
	passStream, passPrefix       = "PASS", "passth."
	envPassStream, envPassPrefix = "ENVPASS", "envpas."
	warmStream, warmPrefix       = "WARMUP", "warmup."
)

// endpointPage is the Defender for Endpoint API's page cap ($top).
const endpointPage = 10_000

// passResult is the pass-through exporter's measurement.
type passResult struct {
	elapsed  time.Duration // first request → last ack
	msgs     int
	requests int
	served   int           // alerts in the answers
	cpu      time.Duration // the bench process's CPU meanwhile: simulator, NATS server and the pass-through
}

// passThrough is the minimal exporter the product is measured against, on the same simulator
// and NATS server, after it: for the Endpoint backlog it asks what the product asks —
// lastUpdateTime windows with $top=10000&$expand=evidence, with the product's HTTP client and
// token provider and the child's config — and does only what any correct poller must with the
// answers: each alert is cut out of the streamed body unparsed (page.Decode; only its id and
// lastUpdateTime are read, page.Version, for the message ID) and published as it is with
// PublishMsgAsync and Nats-Msg-Id, -pending acks outstanding at most. It is given
// windows that each hold fewer alerts than a page, planned from the simulator's own list, so it
// reads every alert once: the floor for a poller that has to discover its windows. A window
// that still comes back full is halved and asked again.
//
// With envelopes (the product's messages by Nats-Msg-Id) it is (d): it sends each alert as
// the product's message for it, so that it costs what the product's bytes cost and nothing for
// building them.
func (b *bench) passThrough(ctx context.Context, e *runEnv, stream, prefix string, envelopes map[string]*nats.Msg) (passResult, error) {
	t := b.tenants[0]
	var times []time.Time
	for _, v := range b.srv.Endpoint(t.id).Versions() {
		times = append(times, v.LastUpdateTime)
	}
	slices.SortFunc(times, time.Time.Compare)
	cfg, err := e.nats.copyStreamConfig(ctx, stream, prefix)
	if err != nil {
		return passResult{}, err
	}
	if _, err := e.nats.js.CreateStream(ctx, cfg); err != nil {
		return passResult{}, fmt.Errorf("creating stream %s: %w", stream, err)
	}
	nc, err := nats.Connect(e.nats.url())
	if err != nil {
		return passResult{}, err
	}
	defer nc.Close()
	var failed atomic.Int64
	var lastErr atomic.Value
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(b.o.pending),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) {
			failed.Add(1)
			lastErr.Store(err)
		}))
	if err != nil {
		return passResult{}, err
	}
	p := &passer{js: js, tenant: t.name, subject: prefix + "endpoint." + t.name + ".pass", envelopes: envelopes}
	if err := p.connect(ctx, filepath.Join(e.dir, "config.toml")); err != nil {
		return passResult{}, err
	}
	defer p.hc.CloseIdleConnections()

	start, cpu := time.Now(), selfCPU()
	for _, w := range planWindows(times, endpointPage-1) {
		if err := p.window(ctx, w[0], w[1]); err != nil {
			return passResult{}, err
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return passResult{}, fmt.Errorf("waiting for the pass-through's acks: %w", context.Cause(ctx))
	}
	elapsed, cpu := time.Since(start), selfCPU()-cpu
	if n := failed.Load(); n > 0 {
		return passResult{}, fmt.Errorf("the pass-through's publishes: %d failed, e.g. %v", n, lastErr.Load())
	}
	s, err := e.nats.streamState(ctx, stream)
	if err != nil {
		return passResult{}, err
	}
	if s.Msgs != uint64(len(times)) {
		return passResult{}, fmt.Errorf("stream %s holds %d messages, the backlog %d (%d requests served %d alerts)", stream, s.Msgs, len(times), p.requests, p.served)
	}
	if envelopes != nil { // the same subjects' lengths, headers and bodies store the same bytes
		product, err := e.nats.streamState(ctx, alertsStream)
		if err != nil {
			return passResult{}, err
		}
		if s.Msgs != product.Msgs || s.Bytes != product.Bytes {
			return passResult{}, fmt.Errorf("stream %s stores %d messages in %d bytes, %s %d in %d: (d) did not send what the product sent",
				stream, s.Msgs, s.Bytes, alertsStream, product.Msgs, product.Bytes)
		}
	}
	return passResult{elapsed: elapsed, msgs: len(times), requests: p.requests, served: p.served, cpu: cpu}, nil
}

// passThroughProfiled is (c), or with envelopes (d), under -bench-profile's profile on the
// first run: PREFIX.pass.cpu, PREFIX.envpass.cpu.
func (b *bench) passThroughProfiled(ctx context.Context, e *runEnv, i int, envelopes map[string]*nats.Msg) (passResult, error) {
	stream, prefix, phase := passStream, passPrefix, ".pass.cpu"
	if envelopes != nil {
		stream, prefix, phase = envPassStream, envPassPrefix, ".envpass.cpu"
	}
	if b.o.benchProf == "" || i > 0 {
		return b.passThrough(ctx, e, stream, prefix, envelopes)
	}
	stop, err := startProfile(b.o.benchProf + phase)
	if err != nil {
		return passResult{}, err
	}
	defer stop()
	return b.passThrough(ctx, e, stream, prefix, envelopes)
}

// byMsgID indexes the product's messages by their Nats-Msg-Id, under envPassPrefix for (d).
func byMsgID(msgs []*nats.Msg) map[string]*nats.Msg {
	out := make(map[string]*nats.Msg, len(msgs))
	for _, m := range msgs {
		out[m.Header.Get(jetstream.MsgIDHeader)] = &nats.Msg{Subject: envPassPrefix + strings.TrimPrefix(m.Subject, alertsPrefix),
			Header: m.Header, Data: m.Data}
	}
	return out
}

// planWindows cuts sorted times into [lo, hi) windows of at most n alerts each, the last one
// open-ended (hi zero). An instant is never split: one that holds more than n is a window of
// its own.
func planWindows(times []time.Time, n int) [][2]time.Time {
	var out [][2]time.Time
	lo := times[0]
	for i := n; i < len(times); {
		hi := times[i]
		for i > 0 && times[i-1].Equal(hi) { // the instant goes to the next window
			i--
		}
		if hi.Equal(lo) { // the instant alone is more than n: it is the window
			for i < len(times) && times[i].Equal(lo) {
				i++
			}
			if i == len(times) {
				break
			}
			hi = times[i]
		}
		out = append(out, [2]time.Time{lo, hi})
		lo, i = hi, i+n
	}
	return append(out, [2]time.Time{lo, {}})
}

// connect takes the child's config, and from it the HTTP client, the API's URL and a token.
func (p *passer) connect(ctx context.Context, configPath string) error {
	env := func(k string) (string, bool) {
		if k == secretEnv {
			return clientSecret, true
		}
		return "", false
	}
	cfg, _, err := config.Load(configPath, env)
	if err != nil {
		return fmt.Errorf("pass-through: %w", err)
	}
	if p.hc, err = httpclient.New(httpclient.Options{CAFile: cfg.Worker.CAFile}); err != nil {
		return err
	}
	tn := cfg.Tenants[0]
	src := tn.Source(sourceEndpoint)
	prov, err := auth.New(tn, auth.Options{HTTPClient: p.hc, Env: env})
	if err != nil {
		return err
	}
	p.api = src.APIURL + "/api/alerts"
	p.token, err = prov.Token(ctx, src.Scope)
	return err
}

// passer is the pass-through's state.
type passer struct {
	hc               *http.Client
	js               jetstream.JetStream
	api, token       string
	tenant, subject  string
	envelopes        map[string]*nats.Msg // (d): what goes out for each alert, by message ID
	requests, served int
}

// window asks lastUpdateTime in [lo, hi) (hi zero: no upper bound) and publishes each alert;
// a full answer is halved and asked again instead.
func (p *passer) window(ctx context.Context, lo, hi time.Time) error {
	const layout = "2006-01-02T15:04:05.0000000Z"
	filter := "lastUpdateTime ge " + lo.UTC().Format(layout)
	if !hi.IsZero() {
		filter += " and lastUpdateTime lt " + hi.UTC().Format(layout)
	}
	q := url.Values{"$filter": {filter}, "$top": {strconv.Itoa(endpointPage)}, "$expand": {"evidence"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.api+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	p.requests++
	resp, err := p.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("pass-through: HTTP %d: %s", resp.StatusCode, body)
	}
	n := 0
	_, err = page.Decode(resp.Body, "value", func(raw []byte, big error) error {
		n++
		if big != nil {
			return big
		}
		return p.publish(raw)
	})
	p.served += n
	if err != nil || n < endpointPage {
		return err
	}
	// Full: the window may hold more. Its halves are asked again (JetStream drops the repeats).
	if hi.IsZero() {
		hi = time.Now()
	}
	mid := lo.Add(hi.Sub(lo) / 2)
	if err := p.window(ctx, lo, mid); err != nil {
		return err
	}
	return p.window(ctx, mid, hi)
}

// publish sends one alert as it came, with its message ID; (d) the product's message for it,
// whose headers carry the ID already: like the product, it sets none (and the map is not its to
// write: a window asked again sends the same message again).
func (p *passer) publish(raw []byte) error {
	id, updated, ok := page.Version(raw, "lastUpdateTime")
	if !ok {
		return fmt.Errorf("pass-through: an alert without id or lastUpdateTime: %.80s", raw)
	}
	msgID := envelope.MsgID(p.tenant, sourceEndpoint, id, updated)
	stall := jetstream.WithStallWait(30 * time.Second)
	if p.envelopes == nil {
		_, err := p.js.PublishMsgAsync(&nats.Msg{Subject: p.subject, Data: raw}, jetstream.WithMsgID(msgID), stall)
		return err
	}
	msg := p.envelopes[msgID]
	if msg == nil {
		return fmt.Errorf("pass-through: the product published nothing for %s", msgID)
	}
	_, err := p.js.PublishMsgAsync(msg, stall)
	return err
}
