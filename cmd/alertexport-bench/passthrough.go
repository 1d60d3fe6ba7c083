package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The pass-through exporter's stream and subjects.
const (
	passStream = "PASS"
	passPrefix = "passth."
)

// endpointPage is the Defender for Endpoint API's page cap ($top).
const endpointPage = 10_000

// passResult is the pass-through exporter's measurement.
type passResult struct {
	elapsed  time.Duration // first request → last ack
	msgs     int
	requests int
	served   int // alerts in the answers
}

// passThrough is the minimal exporter the product is measured against, on the same simulator
// and NATS server, after it: for the Endpoint backlog it asks what the product asks —
// lastUpdateTime windows with $top=10000&$expand=evidence over HTTP/2 with a bearer token — and
// does only what any correct poller must with the answers: each alert is cut out of the streamed
// body unparsed (only its id and lastUpdateTime are read, for the message ID) and published as
// it is with PublishMsgAsync and Nats-Msg-Id, -pending acks outstanding at most. It is given
// windows that each hold fewer alerts than a page, planned from the simulator's own list, so it
// reads every alert once: the floor for a poller that has to discover its windows. A window
// that still comes back full is halved and asked again.
func (b *bench) passThrough(ctx context.Context, e *runEnv) (passResult, error) {
	t := b.tenants[0]
	var times []time.Time
	for _, v := range b.srv.Endpoint(t.id).Versions() {
		times = append(times, v.LastUpdateTime)
	}
	slices.SortFunc(times, time.Time.Compare)
	cfg, err := e.nats.copyStreamConfig(ctx, passStream, passPrefix)
	if err != nil {
		return passResult{}, err
	}
	if _, err := e.nats.js.CreateStream(ctx, cfg); err != nil {
		return passResult{}, fmt.Errorf("creating stream %s: %w", passStream, err)
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
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: b.srv.CertPool(), MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true}}
	defer hc.CloseIdleConnections()
	p := &passer{hc: hc, js: js, api: b.srv.URL() + "/api/alerts", tenant: t.name, subject: passPrefix + "endpoint." + t.name + ".pass"}
	if p.token, err = passToken(ctx, hc, b.srv.URL(), t.id); err != nil {
		return passResult{}, err
	}

	start := time.Now()
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
	elapsed := time.Since(start)
	if n := failed.Load(); n > 0 {
		return passResult{}, fmt.Errorf("the pass-through's publishes: %d failed, e.g. %v", n, lastErr.Load())
	}
	s, err := e.nats.streamState(ctx, passStream)
	if err != nil {
		return passResult{}, err
	}
	if s.Msgs != uint64(len(times)) {
		return passResult{}, fmt.Errorf("stream %s holds %d messages, the backlog %d (%d requests served %d alerts)", passStream, s.Msgs, len(times), p.requests, p.served)
	}
	return passResult{elapsed: elapsed, msgs: len(times), requests: p.requests, served: p.served}, nil
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

// passer is the pass-through's state.
type passer struct {
	hc               *http.Client
	js               jetstream.JetStream
	api, token       string
	tenant, subject  string
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
	n, err := cutItems(resp.Body, p.publish)
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

// publish sends one alert as it came, with its message ID.
func (p *passer) publish(raw []byte) error {
	id, updated, err := alertKey(raw)
	if err != nil {
		return err
	}
	msgID := p.tenant + ".endpoint." + id + "." + strconv.FormatInt(updated.UnixMilli(), 10)
	_, err = p.js.PublishMsgAsync(&nats.Msg{Subject: p.subject, Data: raw}, jetstream.WithMsgID(msgID),
		jetstream.WithStallWait(30*time.Second))
	return err
}

// cutItems calls each with a copy of every item of the body's "value" array, unparsed.
func cutItems(body io.Reader, each func(raw []byte) error) (int, error) {
	d := jsontext.NewDecoder(body)
	if tok, err := d.ReadToken(); err != nil || tok.Kind() != '{' {
		return 0, fmt.Errorf("pass-through: the body is not an object: %v", err)
	}
	n := 0
	for d.PeekKind() != '}' {
		name, err := d.ReadToken()
		if err != nil {
			return n, err
		}
		if name.String() != "value" {
			if err := d.SkipValue(); err != nil {
				return n, err
			}
			continue
		}
		if _, err := d.ReadToken(); err != nil { // [
			return n, err
		}
		for d.PeekKind() != ']' {
			v, err := d.ReadValue()
			if err != nil {
				return n, err
			}
			n++
			if err := each(bytes.Clone(v)); err != nil {
				return n, err
			}
		}
		if _, err := d.ReadToken(); err != nil { // ]
			return n, err
		}
	}
	return n, nil
}

// alertKey reads an alert's id and lastUpdateTime, skipping every other member unparsed.
func alertKey(raw []byte) (string, time.Time, error) {
	d := jsontext.NewDecoder(bytes.NewReader(raw))
	if _, err := d.ReadToken(); err != nil {
		return "", time.Time{}, err
	}
	var id string
	var updated time.Time
	for d.PeekKind() != '}' && (id == "" || updated.IsZero()) {
		tok, err := d.ReadToken()
		if err != nil {
			return "", time.Time{}, err
		}
		switch name := tok.String(); name {
		case "id", "lastUpdateTime":
			v, err := d.ReadToken()
			if err != nil {
				return "", time.Time{}, err
			}
			if name == "id" {
				id = v.String()
			} else if updated, err = time.Parse(time.RFC3339Nano, v.String()); err != nil {
				return "", time.Time{}, err
			}
		default:
			if err := d.SkipValue(); err != nil {
				return "", time.Time{}, err
			}
		}
	}
	if id == "" || updated.IsZero() {
		return "", time.Time{}, fmt.Errorf("pass-through: an alert without id or lastUpdateTime: %.80s", raw)
	}
	return id, updated, nil
}

// passToken takes a client-credentials token for Defender for Endpoint from the simulator's
// Entra endpoint, as any client would.
func passToken(ctx context.Context, hc *http.Client, base, tenantID string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret},
		"scope": {"https://api.securitycenter.microsoft.com/.default"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/"+tenantID+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("pass-through token: HTTP %d: %v", resp.StatusCode, err)
	}
	return tok.AccessToken, nil
}
