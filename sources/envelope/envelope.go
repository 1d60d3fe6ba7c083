// Package envelope is the one message format every source produces and every sink publishes:
// the alertexport.alert.v1 JSON envelope of docs/messages.md, its NATS message ID and its headers.
package envelope

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Schema names this envelope's version; a consumer switches on it.
const Schema = "alertexport.alert.v1"

// Events: the first export of an alert, or a later version of one exported before.
const (
	Created = "created"
	Updated = "updated"
)

// Severities and statuses, normalized across sources (docs/messages.md).
const (
	SeverityInformational = "informational"
	SeverityLow           = "low"
	SeverityMedium        = "medium"
	SeverityHigh          = "high"
	SeverityUnknown       = "unknown"

	StatusNew        = "new"
	StatusInProgress = "in_progress"
	StatusResolved   = "resolved"
	StatusDismissed  = "dismissed"
	StatusUnknown    = "unknown"
)

// Products that raise alerts (service_source): Microsoft Graph's serviceSource values in
// snake_case. The older sources name their own product, so that a subscriber can join an alert
// seen from endpoint or cloudapps with the same alert seen from graph on (service_source,
// provider_alert_id).
const (
	ServiceDefenderForEndpoint  = "microsoft_defender_for_endpoint"
	ServiceDefenderForCloudApps = "microsoft_defender_for_cloud_apps"
)

// Alert is one alert version as subscribers receive it. Keys the source does not have are null,
// never invented; Raw is the alert exactly as the API sent it.
type Alert struct {
	Schema          string          `json:"schema"`
	ID              string          `json:"id"`
	ProviderAlertID *string         `json:"provider_alert_id"` // the id in the product that raised it (join key across sources)
	Source          string          `json:"source"`
	ServiceSource   *string         `json:"service_source"` // that product, ServiceDefenderForEndpoint, …
	Tenant          string          `json:"tenant"`
	TenantID        string          `json:"tenant_id"`
	Event           string          `json:"event"`
	Title           *string         `json:"title"`
	Description     *string         `json:"description"`
	Severity        string          `json:"severity"`
	Status          string          `json:"status"`
	Category        *string         `json:"category"`
	CreatedAt       *time.Time      `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
	FirstActivityAt *time.Time      `json:"first_activity_at"`
	LastActivityAt  *time.Time      `json:"last_activity_at"`
	ResolvedAt      *time.Time      `json:"resolved_at"`
	Classification  *string         `json:"classification"`
	Determination   *string         `json:"determination"`
	DetectionSource *string         `json:"detection_source"`
	IncidentID      *string         `json:"incident_id"`
	AssignedTo      *string         `json:"assigned_to"`
	MitreTechniques []string        `json:"mitre_techniques"`
	MitreTactics    []string        `json:"mitre_tactics"`
	URL             *string         `json:"url"`
	Entities        []Entity        `json:"entities"`
	Raw             json.RawMessage `json:"raw"`
}

// Summary is a copy of a with only what a NATS message's subject and headers and the metrics
// read (ids, source, tenant, event, severity, status, category, times): what stays of an alert
// once its envelope is written.
func (a *Alert) Summary() *Alert {
	return &Alert{Schema: a.Schema, ID: a.ID, ProviderAlertID: a.ProviderAlertID, Source: a.Source,
		ServiceSource: a.ServiceSource, Tenant: a.Tenant, TenantID: a.TenantID, Event: a.Event,
		Severity: a.Severity, Status: a.Status, Category: a.Category, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

// Entity is something an alert involves. Type is device, user, ip, file, process, url, app,
// registry, mailbox, policy, group, or another evidence type in snake_case; only the keys that
// apply to the type and are known are present.
type Entity struct {
	Type string `json:"type"`

	Name   string `json:"name,omitempty"`
	ID     string `json:"id,omitempty"`
	Domain string `json:"domain,omitempty"`
	UPN    string `json:"upn,omitempty"`
	SID    string `json:"sid,omitempty"`
	AADID  string `json:"aad_id,omitempty"`

	Address string `json:"address,omitempty"` // ip
	URL     string `json:"url,omitempty"`     // url

	Path        string `json:"path,omitempty"` // file, process
	SHA1        string `json:"sha1,omitempty"`
	SHA256      string `json:"sha256,omitempty"`
	PID         *int64 `json:"pid,omitempty"` // process
	CommandLine string `json:"command_line,omitempty"`
	ParentPID   *int64 `json:"parent_pid,omitempty"`
	ParentName  string `json:"parent_name,omitempty"`

	PolicyType string `json:"policy_type,omitempty"` // policy (Defender for Cloud Apps)

	Key       string `json:"key,omitempty"` // registry
	Hive      string `json:"hive,omitempty"`
	ValueType string `json:"value_type,omitempty"`
	Value     string `json:"value,omitempty"`
}

// MsgID is the Nats-Msg-Id of one alert version (docs/nats.md): the same for every export of that
// version, live or backfill, so JetStream drops repeats. An alert id longer than MaxIDInMsgID
// bytes goes in shortened (ShortID), so that a message id stays bounded whatever the API sends.
func MsgID(tenant, source, alertID string, updatedAt time.Time) string {
	return tenant + "." + source + "." + ShortID(alertID) + "." + strconv.FormatInt(updatedAt.UnixMilli(), 10)
}

// MaxIDInMsgID bounds the alert id inside a message id. Real ids are far shorter (Defender for
// Endpoint's are about 30 characters, Graph's and Cloud Apps' 24 to 40): any real id stays as it
// is, and so does every message id exported before the bound existed.
const MaxIDInMsgID = 128

// ShortID is id when it is at most MaxIDInMsgID bytes, and otherwise its first bytes, "~" and
// 32 hex digits of its SHA-256 (MaxIDInMsgID bytes in all): stable, and two long ids that differ
// anywhere, even only at the end, shorten differently.
func ShortID(id string) string {
	if len(id) <= MaxIDInMsgID {
		return id
	}
	const hashLen = 32
	sum := sha256.Sum256([]byte(id))
	prefix := cutUTF8(id, MaxIDInMsgID-1-hashLen)
	return prefix + "~" + hex.EncodeToString(sum[:])[:hashLen]
}

// cutUTF8 is s cut to at most n bytes, never inside a UTF-8 sequence.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// RawOf is the raw of an envelope Marshal wrote, nil when body is not one or its raw is null.
// Marshal writes "raw" last, and nothing before it can hold the bytes `,"raw":` (the keys are
// fixed, and a string escapes its quotes), so the first of them starts it.
func RawOf(body []byte) []byte {
	const key = `,"raw":`
	i := bytes.Index(body, []byte(key))
	if i < 0 || body[len(body)-1] != '}' {
		return nil
	}
	raw := body[i+len(key) : len(body)-1]
	if string(raw) == "null" {
		return nil
	}
	return raw
}

// Header names (docs/nats.md). NATS header keys are case-sensitive; these are the exact spellings.
const (
	HeaderMsgID       = "Nats-Msg-Id"
	HeaderContentType = "Content-Type"
	HeaderAlertID     = "Alert-Id"
	HeaderSource      = "Alert-Source"
	HeaderTenant      = "Alert-Tenant"
	HeaderSeverity    = "Alert-Severity"
	HeaderEvent       = "Alert-Event"
	HeaderError       = "Alert-Error"
)

// MaxToken is the longest subject token (docs/nats.md).
const MaxToken = 64

// Token makes s a NATS subject token as docs/nats.md says: lower case, [a-z0-9_-] only, anything
// else "_", never empty, and at most MaxToken characters. A longer token becomes its first 47
// characters, "-" and 16 hex digits of the SHA-256 of the whole token: the same input always
// gives the same token, and two long inputs give different ones unless they are the same once
// lower-cased and with their other characters made "_" (as short ones do).
func Token(s string) string {
	if s == "" {
		return "_"
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	t := b.String()
	if len(t) <= MaxToken {
		return t
	}
	sum := sha256.Sum256([]byte(t))
	return t[:MaxToken-17] + "-" + hex.EncodeToString(sum[:8])
}

// SnakeCase turns an API's PascalCase or camelCase enum value into the envelope's snake_case
// ("TruePositive" → "true_positive", "InformationalExpectedActivity" →
// "informational_expected_activity"), keeping values that are not known to us readable instead
// of dropping them.
func SnakeCase(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 4)
	prevLower := false
	for i, r := range s {
		switch {
		case r >= 'A' && r <= 'Z':
			// A boundary before an upper-case letter that follows a lower-case one, or that
			// starts a word after an acronym ("MTPAlert" → "mtp_alert").
			next := i+1 < len(s) && s[i+1] >= 'a' && s[i+1] <= 'z'
			if b.Len() > 0 && (prevLower || next && i > 0 && s[i-1] >= 'A' && s[i-1] <= 'Z') {
				b.WriteByte('_')
			}
			b.WriteRune(r + 'a' - 'A')
			prevLower = false
		case r == ' ' || r == '-' || r == ',' || r == '_':
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "_") {
				b.WriteByte('_')
			}
			prevLower = false
		default:
			b.WriteRune(r)
			prevLower = r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}
