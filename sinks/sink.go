// Package sinks publishes alert messages to NATS. What every publisher shares lives here: the
// Sink interface the worker drives, subject rendering, and the NATS message of an alert version
// (body and headers, docs/nats.md). jetstream and core are the two publishers; natsconn connects to
// a NATS server, or starts the embedded one.
package sinks

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/envelope"
)

// Sink publishes batches of alert messages.
type Sink interface {
	// Publish sends msgs and returns once every one is durably accepted: acknowledged by
	// JetStream (mode jetstream) or flushed to the server (mode core). res[i] says what became
	// of msgs[i]. An error means some may not have been accepted: the caller must not move its
	// checkpoint.
	Publish(ctx context.Context, msgs []sources.Message) (res []Result, err error)
}

// Result is what became of one message of a Publish.
type Result struct {
	// Duplicate: JetStream already held the message's Nats-Msg-Id (within the duplicate
	// window) and dropped this copy.
	Duplicate bool
	// DeadLetter is the Alert-Error of a message published on the dead-letter subject instead
	// of its own — an alert that could not be normalized, whose envelope could not be written,
	// or that was too large for the server — and "" for an alert published as it is.
	DeadLetter string
}

// Limit is the largest message, headers and body, that the server takes.
type Limit struct {
	Bytes int    // <= 0: none known
	By    string // what sets it, for Alert-Error: "the server's max_payload", …
}

// maxErrorHeader bounds Alert-Error: a reason quoting the API can be long, and every header
// counts against the server's max_payload.
const maxErrorHeader = 1024

// NewMsg builds the NATS message of m: the envelope as the body with the headers of docs/nats.md
// (Nats-Msg-Id always among them, so a publisher need not set it again),
// or for a dead letter the raw bytes with an Alert-Error header, on its dead-letter subject. A
// message over limit becomes a dead letter too (tooLarge), with the same Nats-Msg-Id, so that no
// single alert can stall its job. Only a limit too small for even a dead letter's headers is an
// error.
func NewMsg(s *Subjects, m *sources.Message, limit Limit) (*nats.Msg, error) {
	if m.MsgID == "" {
		return nil, errors.New("sinks: a message without a Nats-Msg-Id")
	}
	var msg *nats.Msg
	if m.Alert == nil {
		msg = deadLetter(s, m)
	} else {
		body, err := m.Body, error(nil)
		if body == nil {
			body, err = envelope.Marshal(m.Alert)
		}
		if err != nil {
			// A normalizer let through what JSON cannot write: publish it as a dead letter
			// rather than fail (and so stall) the whole batch.
			dead := sources.Message{MsgID: m.MsgID, Tenant: m.Tenant, Source: m.Source, Raw: m.Alert.Raw,
				Err: fmt.Errorf("the envelope cannot be written: %w", err)}
			return NewMsg(s, &dead, limit)
		}
		msg = &nats.Msg{Subject: s.Render(m.Alert), Data: body, Header: alertHeader(m.MsgID, m.Alert)}
	}
	if size := Size(msg); limit.Bytes > 0 && size > limit.Bytes {
		return tooLarge(s, m, msg, size, limit)
	}
	return msg, nil
}

// alertHeader is an alert's headers, built at once: Header.Set allocates a slice for each, and
// these are seven of every message.
func alertHeader(msgID string, a *envelope.Alert) nats.Header {
	v := []string{msgID, "application/json", a.ID, a.Source, a.Tenant, a.Severity, a.Event}
	return nats.Header{
		envelope.HeaderMsgID:       v[0:1:1],
		envelope.HeaderContentType: v[1:2:2],
		envelope.HeaderAlertID:     v[2:3:3],
		envelope.HeaderSource:      v[3:4:4],
		envelope.HeaderTenant:      v[4:5:5],
		envelope.HeaderSeverity:    v[5:6:6],
		envelope.HeaderEvent:       v[6:7:7],
	}
}

// deadLetter is the message of a dead letter that fits.
func deadLetter(s *Subjects, m *sources.Message) *nats.Msg {
	msg := nats.NewMsg(s.DeadLetter(m.Source, m.Tenant))
	msg.Data = m.Raw
	msg.Header.Set(envelope.HeaderMsgID, m.MsgID)
	msg.Header.Set(envelope.HeaderContentType, "application/json")
	msg.Header.Set(envelope.HeaderSource, m.Source)
	msg.Header.Set(envelope.HeaderTenant, m.Tenant)
	reason := "not normalized"
	if m.Err != nil {
		reason = m.Err.Error()
	}
	msg.Header.Set(envelope.HeaderError, cutText(reason, maxErrorHeader))
	return msg
}

// tooLarge is msg, size bytes and over limit, as a dead letter that fits: the alert's raw (or a
// dead letter's bytes) cut to the room the headers leave, and an Alert-Error that says so. It
// keeps the Nats-Msg-Id, so a re-read is still dropped as a duplicate, and Alert-Id unless the
// id alone takes a quarter of the limit.
func tooLarge(s *Subjects, m *sources.Message, msg *nats.Msg, size int, limit Limit) (*nats.Msg, error) {
	raw, earlier := m.Raw, ""
	if m.Alert != nil {
		raw = m.Alert.Raw
		if raw == nil {
			raw = envelope.RawOf(m.Body)
		}
	} else {
		earlier = "; it is a dead letter because: " + msg.Header.Get(envelope.HeaderError)
	}
	dead := nats.NewMsg(s.DeadLetter(m.Source, m.Tenant))
	for _, k := range []string{envelope.HeaderMsgID, envelope.HeaderContentType, envelope.HeaderSource, envelope.HeaderTenant} {
		dead.Header.Set(k, msg.Header.Get(k))
	}
	if m.Alert != nil && len(m.Alert.ID) <= limit.Bytes/4 {
		dead.Header.Set(envelope.HeaderAlertID, m.Alert.ID)
	}
	reason := func(cut int) string {
		what := "whole"
		if cut < len(raw) {
			what = fmt.Sprintf("cut to its first %d of %d bytes", cut, len(raw))
		}
		return cutText(fmt.Sprintf("too large: %d bytes, over %s of %d; the raw alert is %s%s",
			size, limit.By, limit.Bytes, what, earlier), maxErrorHeader)
	}
	// The reason as long as it can get (the cut at most the limit), then the room it leaves:
	// writing the real cut can only shorten it.
	dead.Header.Set(envelope.HeaderError, reason(limit.Bytes))
	room := limit.Bytes - Size(dead)
	if room < 0 {
		return nil, fmt.Errorf("message %s is %d bytes, over %s of %d, and not even a dead letter's headers (%d bytes) fit: raise it",
			m.MsgID, size, limit.By, limit.Bytes, Size(dead))
	}
	dead.Data = cutBytes(raw, room)
	dead.Header.Set(envelope.HeaderError, reason(len(dead.Data)))
	// The real reason can be longer than the one the room was sized by: a raw that is no
	// larger than the limit reads "whole" there, but the headers leave less room than that,
	// so it is cut after all, and says so. Cut again by what it is over (each cut can only
	// shorten the numbers in the reason).
	for over := Size(dead) - limit.Bytes; over > 0 && len(dead.Data) > 0; over = Size(dead) - limit.Bytes {
		dead.Data = cutBytes(raw, max(len(dead.Data)-over, 0))
		dead.Header.Set(envelope.HeaderError, reason(len(dead.Data)))
	}
	return dead, nil
}

// Size is what msg counts against the server's max_payload and a stream's max_msg_size: its
// headers as nats.go writes them, and its body.
func Size(msg *nats.Msg) int {
	return msg.Size() - len(msg.Subject) - len(msg.Reply)
}

// cutBytes is b cut to at most n bytes, never inside a UTF-8 sequence.
func cutBytes(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return b[:n]
}

// cutText is s cut to at most n bytes, ending in "…" when cut.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return string(cutBytes([]byte(s), n-len("…"))) + "…"
}
