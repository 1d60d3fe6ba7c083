package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/alertexport/alertexport/sources/envelope"
)

// PrintAlert writes one alert message: its envelope, or a line with time, tenant, source,
// severity, title and id. A dead letter says so. Everything taken from the message is made
// safe for a terminal first: alert text is whatever a detection, an attacker or another
// publisher put there, and an escape sequence in a title (OSC 52 writes the clipboard, others
// retitle the window or rewrite the screen) must reach the operator as text.
func PrintAlert(w io.Writer, m *nats.Msg, asJSON bool) {
	if asJSON {
		fmt.Fprintf(w, "%s\n", jsonLine(m.Data))
		return
	}
	if reason := m.Header.Get(envelope.HeaderError); reason != "" {
		fmt.Fprintf(w, "%s  DEAD-LETTER  %s/%s  %s  (%s)\n", time.Now().UTC().Format(time.TimeOnly),
			TerminalSafe(m.Header.Get(envelope.HeaderTenant)), TerminalSafe(m.Header.Get(envelope.HeaderSource)),
			TerminalSafe(reason), TerminalSafe(m.Subject))
		return
	}
	var a envelope.Alert
	if err := json.Unmarshal(m.Data, &a); err != nil {
		fmt.Fprintf(w, "unreadable message on %s: %s\n", TerminalSafe(m.Subject), TerminalSafe(err.Error()))
		return
	}
	if a.Schema == envelope.IncidentSchema {
		var in envelope.Incident
		if err := json.Unmarshal(m.Data, &in); err != nil {
			fmt.Fprintf(w, "unreadable message on %s: %s\n", TerminalSafe(m.Subject), TerminalSafe(err.Error()))
			return
		}
		fmt.Fprintln(w, IncidentLine(&in))
		return
	}
	fmt.Fprintln(w, AlertLine(&a))
}

// IncidentLine is the one-line form of an incident version, as a ticketing bot would log it:
// its status, its alerts, and the incident it was merged into.
func IncidentLine(in *envelope.Incident) string {
	a := in.Summary()
	a.Title = in.Title
	line := AlertLine(a)
	extra := fmt.Sprintf("  [%s, %d alerts", TerminalSafe(in.Status), len(in.AlertIDs))
	if in.RedirectIncidentID != nil {
		extra += ", merged into " + TerminalSafe(*in.RedirectIncidentID)
	}
	return line + extra + "]"
}

// AlertLine is the one-line form of an alert, as a chat-ops bot would post it, safe for a
// terminal.
func AlertLine(a *envelope.Alert) string {
	title := "(no title)"
	if a.Title != nil {
		title = *a.Title
	}
	if r := []rune(title); len(r) > 90 {
		title = string(r[:89]) + "…"
	}
	return fmt.Sprintf("%s  %-13s  %s/%s  %-7s  %s  (%s)", a.UpdatedAt.UTC().Format("2006-01-02 15:04:05"),
		TerminalSafe(strings.ToUpper(a.Severity)), TerminalSafe(a.Tenant), TerminalSafe(a.Source),
		TerminalSafe(a.Event), TerminalSafe(title), TerminalSafe(a.ID))
}

// TerminalSafe writes what could drive a terminal or disguise a line as visible escapes: C0
// and C1 control characters and DEL (\x1b, \u009b: ESC and CSI start every control sequence),
// bytes that are not UTF-8 (an 8-bit terminal reads 0x9b as CSI), line and paragraph
// separators, and the bidirectional controls that reorder what is shown (U+202E). The rest,
// backslashes included, is left as is.
func TerminalSafe(s string) string {
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if needsEscape(r, size) {
			break
		}
		i += size
	}
	if i == len(s) {
		return s
	}
	b := []byte(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = fmt.Appendf(b, `\x%02x`, s[i])
		case !needsEscape(r, size):
			b = append(b, s[i:i+size]...)
		case r < 0x80:
			b = fmt.Appendf(b, `\x%02x`, r)
		default:
			b = fmt.Appendf(b, `\u%04x`, r)
		}
		i += size
	}
	return string(b)
}

func needsEscape(r rune, size int) bool {
	return r == utf8.RuneError && size == 1 || unicode.IsControl(r) || // C0, DEL, C1
		r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r)
}

// jsonLine is an envelope (or any message) for --json: valid JSON is compacted to one line and
// keeps its value, with DEL, C1 controls, U+2028/U+2029, bidirectional controls and bytes that
// are not UTF-8 — which JSON allows raw inside strings, and which the envelope's raw field
// passes on as the API sent them — written as \u escapes; encoding/json already escapes the C0
// controls. Anything else (a dead letter's raw bytes) is not JSON and is printed terminal-safe.
func jsonLine(data []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return []byte(TerminalSafe(string(data)))
	}
	b := buf.Bytes()
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			out = append(out, `\ufffd`...)
		case needsEscape(r, size):
			// Outside strings compact JSON has only ASCII punctuation, digits and literals (and
			// C0 controls are escaped inside them), so these are inside a string, where \u
			// escapes mean the same character.
			out = fmt.Appendf(out, `\u%04x`, r)
		default:
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}
