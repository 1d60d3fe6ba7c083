// Package sinks publishes alert messages to NATS. What every publisher shares lives here: the
// Sink interface the worker drives, subject rendering, and the NATS message of an alert version
// (body and headers, SPEC §3). jetstream and core are the two publishers; natsconn connects to
// a NATS server, or starts the embedded one.
package sinks

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/envelope"
)

// Sink publishes batches of alert messages.
type Sink interface {
	// Publish sends msgs and returns once every one is durably accepted: acknowledged by
	// JetStream (mode jetstream) or flushed to the server (mode core). dup[i] is true when
	// JetStream already held msgs[i] (same Nats-Msg-Id inside the duplicate window). An error
	// means some may not have been accepted: the caller must not move its checkpoint.
	Publish(ctx context.Context, msgs []sources.Message) (dup []bool, err error)
}

// NewMsg builds the NATS message of m: the envelope as the body with SPEC §3's headers, or for a
// dead letter the raw bytes with an Alert-Error header, on its dead-letter subject.
func NewMsg(s *Subjects, m *sources.Message) (*nats.Msg, error) {
	if m.MsgID == "" {
		return nil, errors.New("sinks: a message without a Nats-Msg-Id")
	}
	if m.Alert == nil {
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
		msg.Header.Set(envelope.HeaderError, reason)
		return msg, nil
	}
	body, err := m.Body, error(nil)
	if body == nil {
		body, err = envelope.Marshal(m.Alert)
	}
	if err != nil {
		// A normalizer let through what JSON cannot write: publish it as a dead letter rather
		// than fail (and so stall) the whole batch.
		dead := sources.Message{MsgID: m.MsgID, Tenant: m.Tenant, Source: m.Source, Raw: m.Alert.Raw,
			Err: fmt.Errorf("the envelope cannot be written: %w", err)}
		return NewMsg(s, &dead)
	}
	a := m.Alert
	msg := nats.NewMsg(s.Render(a))
	msg.Data = body
	msg.Header.Set(envelope.HeaderMsgID, m.MsgID)
	msg.Header.Set(envelope.HeaderContentType, "application/json")
	msg.Header.Set(envelope.HeaderAlertID, a.ID)
	msg.Header.Set(envelope.HeaderSource, a.Source)
	msg.Header.Set(envelope.HeaderTenant, a.Tenant)
	msg.Header.Set(envelope.HeaderSeverity, a.Severity)
	msg.Header.Set(envelope.HeaderEvent, a.Event)
	return msg, nil
}
