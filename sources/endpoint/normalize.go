package endpoint

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/alertexport/alertexport/sources/envelope"
)

// identity is what the envelope says about where an alert comes from.
type identity struct {
	tenant, tenantID, portal string
}

// errNoVersion: without an id and a lastUpdateTime an alert cannot be versioned, deduplicated
// or given a message ID.
var errNoVersion = errors.New("the alert has no id or no lastUpdateTime")

// normalize builds the envelope of one alert version. raw is the alert's bytes, kept as they
// came; event is created or updated (the caller knows what was exported before).
func normalize(a *alert, raw []byte, id identity, event string) (*envelope.Alert, error) {
	if a.ID == "" || a.LastUpdateTime == nil {
		return nil, errNoVersion
	}
	e := &envelope.Alert{
		Schema:          envelope.Schema,
		ID:              a.ID,
		ProviderAlertID: new(a.ID), // Graph's providerAlertId (and id) of this alert
		Source:          "endpoint",
		ServiceSource:   new(envelope.ServiceDefenderForEndpoint),
		Tenant:          id.tenant,
		TenantID:        id.tenantID,
		Event:           event,
		Title:           a.Title,
		Description:     a.Description,
		Severity:        severity(deref(a.Severity)),
		Status:          status(deref(a.Status)),
		Category:        a.Category,
		CreatedAt:       utc(a.AlertCreationTime),
		UpdatedAt:       a.LastUpdateTime.UTC(),
		FirstActivityAt: utc(a.FirstEventTime),
		LastActivityAt:  utc(a.LastEventTime),
		ResolvedAt:      utc(a.ResolvedTime),
		Classification:  snake(a.Classification),
		Determination:   snake(a.Determination),
		DetectionSource: a.DetectionSource,
		IncidentID:      a.IncidentID.s,
		AssignedTo:      a.AssignedTo,
		MitreTechniques: techniques(a.MitreTechniques),
		MitreTactics:    []string{}, // Defender for Endpoint names its tactic as the category
		Entities:        entities(a),
		Raw:             raw,
	}
	if id.portal != "" {
		u := id.portal + "/alerts/" + url.PathEscape(a.ID)
		if id.tenantID != "" {
			u += "?tid=" + url.QueryEscape(id.tenantID)
		}
		e.URL = &u
	}
	return e, nil
}

// severity maps the documented values (UnSpecified, Informational, Low, Medium, High); anything
// else, UnSpecified included, is unknown — never a failure.
func severity(s string) string {
	switch strings.ToLower(s) {
	case "informational":
		return envelope.SeverityInformational
	case "low":
		return envelope.SeverityLow
	case "medium":
		return envelope.SeverityMedium
	case "high":
		return envelope.SeverityHigh
	}
	return envelope.SeverityUnknown
}

// status maps the documented values (Unknown, New, InProgress, Resolved).
func status(s string) string {
	switch strings.ToLower(s) {
	case "new":
		return envelope.StatusNew
	case "inprogress", "in_progress":
		return envelope.StatusInProgress
	case "resolved":
		return envelope.StatusResolved
	}
	return envelope.StatusUnknown
}

func snake(p *string) *string {
	if p == nil || *p == "" {
		return nil
	}
	s := envelope.SnakeCase(*p)
	return &s
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// techniques keeps the MITRE ATT&CK IDs in order, once each; never null, so consumers can
// iterate without a check.
func techniques(in []string) []string {
	out := make([]string, 0, len(in))
	for _, t := range in {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// entities lists what the alert involves: the device, the related and logged-on users, then
// the evidence, each thing once (a user named in relatedUser and in the evidence is one
// entity with what both say).
func entities(a *alert) []envelope.Entity {
	var es entitySet
	if a.MachineID != nil || a.ComputerDNSName != nil {
		es.add(envelope.Entity{Type: "device", Name: deref(a.ComputerDNSName), ID: deref(a.MachineID)})
	}
	if u := a.RelatedUser; u != nil && u.Name != "" {
		es.add(envelope.Entity{Type: "user", Name: u.Name, Domain: u.Domain})
	}
	for _, u := range a.LoggedOnUsers {
		if u.Name != "" {
			es.add(envelope.Entity{Type: "user", Name: u.Name, Domain: u.Domain})
		}
	}
	for i := range a.Evidence {
		if e, ok := fromEvidence(&a.Evidence[i]); ok {
			es.add(e)
		}
	}
	if es.list == nil {
		return []envelope.Entity{}
	}
	return es.list
}

// fromEvidence maps an evidence item by its entityType. A type this code does not know still
// becomes an entity (its type in snake_case, with whatever identifying fields it has).
func fromEvidence(ev *evidence) (envelope.Entity, bool) {
	typ := strings.ToLower(deref(ev.EntityType))
	switch typ {
	case "user", "account":
		return envelope.Entity{Type: "user", Name: deref(ev.AccountName), Domain: deref(ev.DomainName),
			UPN: deref(ev.UserPrincipalName), SID: deref(ev.UserSID), AADID: deref(ev.AADUserID)}, true
	case "file":
		return envelope.Entity{Type: "file", Name: deref(ev.FileName), Path: deref(ev.FilePath),
			SHA1: deref(ev.SHA1), SHA256: deref(ev.SHA256)}, true
	case "process":
		return envelope.Entity{Type: "process", Name: deref(ev.FileName), Path: deref(ev.FilePath),
			SHA1: deref(ev.SHA1), SHA256: deref(ev.SHA256), PID: ev.ProcessID.n,
			CommandLine: deref(ev.ProcessCommandLine), ParentPID: ev.ParentProcessID.n,
			ParentName: deref(ev.ParentProcessFileName)}, true
	case "ip":
		return envelope.Entity{Type: "ip", Address: deref(ev.IPAddress)}, ev.IPAddress != nil
	case "url":
		return envelope.Entity{Type: "url", URL: deref(ev.URL)}, ev.URL != nil
	case "registry", "registrykey", "registryvalue":
		return envelope.Entity{Type: "registry", Key: deref(ev.RegistryKey), Hive: deref(ev.RegistryHive),
			ValueType: deref(ev.RegistryValueType), Value: deref(ev.RegistryValue)}, true
	case "mailbox":
		return envelope.Entity{Type: "mailbox", Name: deref(ev.AccountName), UPN: deref(ev.UserPrincipalName),
			AADID: deref(ev.AADUserID)}, true
	case "":
		return envelope.Entity{}, false
	}
	return envelope.Entity{Type: envelope.SnakeCase(deref(ev.EntityType)), Name: firstOf(ev.AccountName, ev.FileName),
		Domain: deref(ev.DomainName), UPN: deref(ev.UserPrincipalName), SID: deref(ev.UserSID),
		AADID: deref(ev.AADUserID), Address: deref(ev.IPAddress), URL: deref(ev.URL)}, true
}

func firstOf(ps ...*string) string {
	for _, p := range ps {
		if p != nil && *p != "" {
			return *p
		}
	}
	return ""
}

// entitySet de-duplicates entities: two entities of one type that share an identifier are
// merged, the first one's values winning and the second filling its gaps.
type entitySet struct{ list []envelope.Entity }

func (s *entitySet) add(e envelope.Entity) {
	for i := range s.list {
		if same(&s.list[i], &e) {
			merge(&s.list[i], &e)
			return
		}
	}
	s.list = append(s.list, e)
}

func same(a, b *envelope.Entity) bool {
	if a.Type != b.Type {
		return false
	}
	eq := func(x, y string) bool { return x != "" && strings.EqualFold(x, y) }
	switch a.Type {
	case "device":
		return eq(a.ID, b.ID) || (a.ID == "" || b.ID == "") && eq(a.Name, b.Name)
	case "user", "mailbox":
		return eq(a.SID, b.SID) || eq(a.AADID, b.AADID) || eq(a.UPN, b.UPN) ||
			eq(a.Name, b.Name) && strings.EqualFold(a.Domain, b.Domain)
	case "file":
		return eq(a.SHA256, b.SHA256) || eq(a.SHA1, b.SHA1) ||
			a.SHA1 == "" && b.SHA1 == "" && a.SHA256 == "" && b.SHA256 == "" && eq(a.Path+`\`+a.Name, b.Path+`\`+b.Name)
	case "process":
		return a.PID != nil && b.PID != nil && *a.PID == *b.PID && a.CommandLine == b.CommandLine && a.Path == b.Path
	case "ip":
		return eq(a.Address, b.Address)
	case "url":
		return a.URL != "" && a.URL == b.URL
	}
	return *a == *b
}

func merge(dst, src *envelope.Entity) {
	fill := func(d *string, s string) {
		if *d == "" {
			*d = s
		}
	}
	fill(&dst.Name, src.Name)
	fill(&dst.ID, src.ID)
	fill(&dst.Domain, src.Domain)
	fill(&dst.UPN, src.UPN)
	fill(&dst.SID, src.SID)
	fill(&dst.AADID, src.AADID)
	fill(&dst.Path, src.Path)
	fill(&dst.SHA1, src.SHA1)
	fill(&dst.SHA256, src.SHA256)
	fill(&dst.CommandLine, src.CommandLine)
	fill(&dst.ParentName, src.ParentName)
	if dst.PID == nil {
		dst.PID = src.PID
	}
	if dst.ParentPID == nil {
		dst.ParentPID = src.ParentPID
	}
}
