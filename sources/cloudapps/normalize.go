package cloudapps

import (
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/envelope"
)

// errNoVersion: without an _id and the time that versions it (timestamp while open,
// resolveTime once closed) an alert cannot be deduplicated or given a message ID.
var errNoVersion = sources.NoVersion("_id, or no timestamp (open) or resolveTime (closed)")

// normalize builds the envelope of one alert version.
func normalize(a *alert, raw []byte, id sources.Identity, event string) (*envelope.Alert, error) {
	v, ok := a.version()
	if a.ID == "" || !ok {
		return nil, errNoVersion
	}
	status, classification := resolution(a.ResolutionStatusValue)
	e := &envelope.Alert{
		Schema:          envelope.Schema,
		ID:              a.ID,
		ProviderAlertID: new(a.ID), // Graph's providerAlertId of this alert (its Graph id differs)
		Source:          Name,
		ServiceSource:   new(envelope.ServiceDefenderForCloudApps),
		Tenant:          id.Tenant,
		TenantID:        id.TenantID,
		Event:           event,
		Title:           a.Title,
		Description:     a.Description, // kept as sent, markup placeholders (__siteIcon__) included
		Severity:        severity(a.SeverityValue),
		Status:          status,
		Category:        category(a.Stories),
		UpdatedAt:       v,
		Classification:  classification,
		MitreTechniques: []string{},
		MitreTactics:    tactics(a.Intent),
		Entities:        entities(a.Entities),
		Raw:             raw,
	}
	if a.Timestamp != nil {
		t := a.Timestamp.t
		e.CreatedAt = &t
	}
	if a.closed() && a.ResolveTime != nil && !a.ResolveTime.t.IsZero() {
		t := a.ResolveTime.t
		e.ResolvedAt = &t
	}
	if a.URL.s != "" {
		u := a.URL.s
		e.URL = &u
	}
	return e, nil
}

// severity maps severityValue: 0 low, 1 medium, 2 high, 3 informational (B3).
func severity(v *int) string {
	if v == nil {
		return envelope.SeverityUnknown
	}
	switch *v {
	case 0:
		return envelope.SeverityLow
	case 1:
		return envelope.SeverityMedium
	case 2:
		return envelope.SeverityHigh
	case 3:
		return envelope.SeverityInformational
	}
	return envelope.SeverityUnknown
}

// resolution maps resolutionStatusValue (0 open, 1 dismissed, 2 resolved, 3 false positive,
// 4 benign, 5 true positive) to a status and, where the value says so, a classification.
func resolution(v *int) (string, *string) {
	if v == nil {
		return envelope.StatusUnknown, nil
	}
	c := func(s string) *string { return &s }
	switch *v {
	case 0:
		return envelope.StatusNew, nil
	case 1:
		return envelope.StatusDismissed, nil
	case 2:
		return envelope.StatusResolved, nil
	case 3:
		return envelope.StatusResolved, c("false_positive")
	case 4:
		return envelope.StatusDismissed, c("informational_expected_activity") // the name Endpoint and Graph use
	case 5:
		return envelope.StatusResolved, c("true_positive")
	}
	return envelope.StatusUnknown, nil
}

// stories are the alert's categories (B3); the first is the envelope's category.
var stories = map[int]string{0: "threat_detection", 1: "privileged_account_monitoring", 2: "compliance", 3: "dlp",
	4: "discovery", 5: "sharing_control", 7: "access_control", 8: "configuration_monitoring"}

func category(s []int) *string {
	if len(s) == 0 {
		return nil
	}
	name, ok := stories[s[0]]
	if !ok {
		name = "unknown"
	}
	return &name
}

// intents are MITRE ATT&CK tactics in the API's numbering (B3).
var intents = []string{"unknown", "pre_attack", "initial_access", "persistence", "privilege_escalation",
	"defense_evasion", "credential_access", "discovery", "lateral_movement", "execution", "collection",
	"exfiltration", "command_and_control", "impact"}

func tactics(in []int) []string {
	out := []string{}
	for _, i := range in {
		if i > 0 && i < len(intents) {
			out = append(out, intents[i])
		}
	}
	return out
}

// entities maps entities[] by type: account and user → user (upn from pa, nothing guessed from
// an email or an id), service → app,
// device, ip, file; policyRule → policy and groupTag → group keep their label and id; other
// types keep their name in snake_case.
func entities(in []entity) []envelope.Entity {
	out := []envelope.Entity{}
	seen := make(map[envelope.Entity]bool, len(in)) // a set, not a scan of out: an alert can name thousands
	add := func(e envelope.Entity) {
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	for _, en := range in {
		switch en.Type {
		case "account":
			add(envelope.Entity{Type: "user", Name: en.Label.s, UPN: en.PA.s, ID: en.ID.s})
		case "user":
			add(envelope.Entity{Type: "user", Name: en.Label.s, ID: en.ID.s})
		case "service":
			add(envelope.Entity{Type: "app", Name: en.Label.s, ID: en.ID.s})
		case "device":
			add(envelope.Entity{Type: "device", Name: en.Label.s, ID: en.ID.s})
		case "ip":
			addr := en.Label.s
			if addr == "" {
				addr = en.ID.s
			}
			add(envelope.Entity{Type: "ip", Address: addr})
		case "file":
			add(envelope.Entity{Type: "file", Name: en.Label.s, ID: en.ID.s})
		case "policyRule":
			add(envelope.Entity{Type: "policy", Name: en.Label.s, ID: en.ID.s, PolicyType: en.PolicyType.s})
		case "groupTag":
			add(envelope.Entity{Type: "group", Name: en.Label.s, ID: en.ID.s})
		case "":
		default:
			add(envelope.Entity{Type: envelope.SnakeCase(en.Type), Name: en.Label.s, ID: en.ID.s})
		}
	}
	return out
}
