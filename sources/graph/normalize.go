package graph

import (
	"encoding/json"
	"strings"

	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/envelope"
)

// normalize builds the envelope of one alert version. raw is the alert's bytes, kept as they
// came; event is created or updated (the caller knows what was exported before).
//
// The values read the way the endpoint and cloudapps sources write them, so that one alert
// reads alike from either side: severity and status through the shared mappings (Graph has no
// dismissed), the enums in snake_case with Graph's "unknown" — its word for "not set yet" — as
// null, as Defender for Endpoint sends an unclassified alert; provider_alert_id and
// service_source join an alert with the same one exported by endpoint or cloudapps.
func normalize(a *alert, raw []byte, id sources.Identity, event string) (*envelope.Alert, error) {
	if a.ID == "" || a.LastUpdateDateTime == nil {
		return nil, errNoVersion
	}
	return &envelope.Alert{
		Schema:          envelope.Schema,
		ID:              a.ID,
		ProviderAlertID: nonEmpty(a.ProviderAlertID),
		Source:          Name,
		ServiceSource:   enum(a.ServiceSource),
		Tenant:          id.Tenant,
		TenantID:        id.TenantID,
		Event:           event,
		Title:           a.Title,
		Description:     a.Description,
		Severity:        envelope.NormalizeSeverity(str(a.Severity)), // unknown, unknownFutureValue: unknown
		Status:          envelope.NormalizeStatus(str(a.Status)),     // new, inProgress, resolved
		Category:        a.Category,
		CreatedAt:       envelope.UTC(a.CreatedDateTime),
		UpdatedAt:       a.LastUpdateDateTime.UTC(),
		FirstActivityAt: envelope.UTC(a.FirstActivityDateTime),
		LastActivityAt:  envelope.UTC(a.LastActivityDateTime),
		ResolvedAt:      envelope.UTC(a.ResolvedDateTime),
		Classification:  enum(a.Classification),
		Determination:   enum(a.Determination),
		DetectionSource: enum(a.DetectionSource),
		IncidentID:      nonEmpty(a.IncidentID),
		AssignedTo:      a.AssignedTo,
		MitreTechniques: envelope.Techniques(a.MitreTechniques),
		MitreTactics:    []string{}, // Graph names the alert's tactic as its category, like Defender for Endpoint
		URL:             nonEmpty(a.AlertWebURL),
		Entities:        entities(a),
		Raw:             raw,
	}, nil
}

// enum is an evolvable enum's value in snake_case. "unknown" is Graph's "not set" (an alert
// not classified yet): null. unknownFutureValue is a value Graph hides from a client that did
// not ask for new members (graph.go asks): it is set, but not known to us, so "unknown".
func enum(p *string) *string {
	switch {
	case p == nil || *p == "" || strings.EqualFold(*p, "unknown"):
		return nil
	case strings.EqualFold(*p, "unknownFutureValue"):
		return new("unknown")
	}
	return new(envelope.SnakeCase(*p))
}

func nonEmpty(p *string) *string {
	if p == nil || *p == "" {
		return nil
	}
	return p
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// entities lists what the alert involves, from its evidence in order and then its policy, each
// thing once (envelope.EntitySet: a user who is the device's logged-on user and a userEvidence
// is one entity with what both say). An evidence item that is not an object with an
// @odata.type, or whose properties have the wrong types, is left out: raw keeps it, and it does
// not cost the alert.
func entities(a *alert) []envelope.Entity {
	var es envelope.EntitySet
	for _, raw := range a.Evidence {
		for _, e := range fromEvidence(raw) {
			es.Add(e)
		}
	}
	if p := a.AlertPolicyID; p != nil && *p != "" {
		// The policy that raised the alert: for a Cloud Apps alert, its policyRule entity's id.
		es.Add(envelope.Entity{Type: "policy", ID: *p})
	}
	return es.List()
}

// evidenceTypes maps the documented evidence types, by the name in their @odata.type, to their
// entities. Any other type is kept as its own snake_case type (see other).
var evidenceTypes = map[string]func(raw []byte) ([]envelope.Entity, error){
	"deviceEvidence": as(func(d *deviceEvidence) []envelope.Entity {
		name := d.DeviceDNSName
		if name == "" {
			name = d.HostName
		}
		out := []envelope.Entity{{Type: "device", Name: name, ID: d.MDEDeviceID}}
		// Its logged-on users, as the endpoint source names an alert's relatedUser and
		// loggedOnUsers (Graph puts an MDE alert's relatedUser here). ipInterfaces are not
		// entities: every address the device has is not what the alert involves, and the other
		// sources do not list them either.
		for _, u := range d.LoggedOnUsers {
			if u.AccountName != "" {
				out = append(out, envelope.Entity{Type: "user", Name: u.AccountName, Domain: u.DomainName})
			}
		}
		return out
	}),
	"userEvidence": as(func(u *userEvidence) []envelope.Entity {
		return []envelope.Entity{user(u.UserAccount)}
	}),
	"ipEvidence": as(func(ip *ipEvidence) []envelope.Entity {
		return nonEmptyEntity(envelope.Entity{Type: "ip", Address: ip.IPAddress}, ip.IPAddress)
	}),
	"urlEvidence": as(func(u *urlEvidence) []envelope.Entity {
		return nonEmptyEntity(envelope.Entity{Type: "url", URL: u.URL}, u.URL)
	}),
	"fileEvidence": as(func(f *fileEvidence) []envelope.Entity {
		e := envelope.Entity{Type: "file"}
		if d := f.FileDetails; d != nil {
			e.Name, e.Path, e.SHA1, e.SHA256 = d.FileName, d.FilePath, d.SHA1, d.SHA256
		}
		return []envelope.Entity{e}
	}),
	"processEvidence": as(func(p *processEvidence) []envelope.Entity {
		e := envelope.Entity{Type: "process", PID: p.ProcessID, CommandLine: p.ProcessCommandLine, ParentPID: p.ParentProcessID}
		if f := p.ImageFile; f != nil {
			e.Name, e.Path, e.SHA1, e.SHA256 = f.FileName, f.FilePath, f.SHA1, f.SHA256
		}
		if f := p.ParentProcessImageFile; f != nil {
			e.ParentName = f.FileName
		}
		out := []envelope.Entity{e}
		if u := user(p.UserAccount); u != (envelope.Entity{Type: "user"}) {
			out = append(out, u) // the account it ran as
		}
		return out
	}),
	"registryKeyEvidence":   as(registry),
	"registryValueEvidence": as(registry),
	"mailboxEvidence": as(func(m *mailboxEvidence) []envelope.Entity {
		// As the endpoint source's mailbox: name, upn, aad_id.
		e := envelope.Entity{Type: "mailbox", UPN: m.UPN}
		if u := m.UserAccount; u != nil {
			e.Name, e.AADID = u.AccountName, u.AzureADUserID
			if e.UPN == "" {
				e.UPN = u.UserPrincipalName
			}
		}
		for _, n := range []string{m.DisplayName, m.PrimaryAddress} {
			if e.Name == "" {
				e.Name = n
			}
		}
		return []envelope.Entity{e}
	}),
	"analyzedMessageEvidence": as(func(m *analyzedMessageEvidence) []envelope.Entity {
		// mail_message, the name the endpoint source gives Defender's MailMessage evidence,
		// which Graph shows as analyzedMessageEvidence.
		return []envelope.Entity{{Type: "mail_message", ID: m.NetworkMessageID, Name: m.Subject}}
	}),
	"mailClusterEvidence": as(func(m *mailClusterEvidence) []envelope.Entity {
		return []envelope.Entity{{Type: "mail_cluster", ID: m.URN, Name: m.Query}}
	}),
	"cloudApplicationEvidence": as(func(c *cloudApplicationEvidence) []envelope.Entity {
		// As the cloudapps source's service entity: the Cloud Apps app id ("11161").
		return []envelope.Entity{{Type: "app", ID: c.AppID.String(), Name: c.DisplayName}}
	}),
	"oauthApplicationEvidence": as(func(o *oauthApplicationEvidence) []envelope.Entity {
		return []envelope.Entity{{Type: "app", ID: o.AppID, Name: o.DisplayName}}
	}),
	"securityGroupEvidence": as(func(g *securityGroupEvidence) []envelope.Entity {
		return []envelope.Entity{{Type: "group", ID: g.SecurityGroupID, Name: g.DisplayName, SID: g.SID}}
	}),
	"azureResourceEvidence": as(func(r *azureResourceEvidence) []envelope.Entity {
		return []envelope.Entity{{Type: "azure_resource", ID: r.ResourceID, Name: r.ResourceName}}
	}),
	"aiAgentEvidence": as(func(r *aiAgentEvidence) []envelope.Entity {
		return []envelope.Entity{{Type: "ai_agent", ID: r.AgentID, Name: r.AgentName}}
	}),
	"cloudLogonSessionEvidence": as(func(s *cloudLogonSessionEvidence) []envelope.Entity {
		out := []envelope.Entity{{Type: "cloud_logon_session", ID: s.SessionID}}
		if s.Account != nil {
			if u := user(s.Account.UserAccount); u != (envelope.Entity{Type: "user"}) {
				out = append(out, u) // the account signed in
			}
		}
		return out
	}),
}

// as decodes an item into T and maps it with f.
func as[T any](f func(*T) []envelope.Entity) func([]byte) ([]envelope.Entity, error) {
	return func(raw []byte) ([]envelope.Entity, error) {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		return f(&v), nil
	}
}

func user(u *userAccount) envelope.Entity {
	e := envelope.Entity{Type: "user"}
	if u != nil {
		e.Name, e.Domain, e.UPN, e.SID, e.AADID = u.AccountName, u.DomainName, u.UserPrincipalName, u.UserSID, u.AzureADUserID
		if e.Name == "" {
			e.Name = u.DisplayName
		}
	}
	return e
}

// registry is a registryKeyEvidence or a registryValueEvidence: the key apart from its hive,
// as Graph sends it, and for a value its name, type and data.
func registry(r *registryEvidence) []envelope.Entity {
	return []envelope.Entity{{Type: "registry", Key: r.RegistryKey, Hive: r.RegistryHive, Name: r.RegistryValueName,
		ValueType: r.RegistryValueType, Value: r.RegistryValue}}
}

// nonEmptyEntity is e when what identifies it (an ip's address, a url) is there.
func nonEmptyEntity(e envelope.Entity, id string) []envelope.Entity {
	if id == "" {
		return nil
	}
	return []envelope.Entity{e}
}

// fromEvidence maps one evidence item; nil when it is malformed.
func fromEvidence(raw []byte) []envelope.Entity {
	var h evidenceHead
	if json.Unmarshal(raw, &h) != nil || h.Type == "" {
		return nil
	}
	name := h.Type[strings.LastIndexByte(h.Type, '.')+1:]
	if m, ok := evidenceTypes[name]; ok {
		es, err := m(raw)
		if err != nil {
			return nil
		}
		return es
	}
	return other(name, raw)
}

// otherTypes names the entities of evidence types whose snake_case reads badly.
var otherTypes = map[string]string{
	"alertEvidence":              "evidence", // the base type, sent bare
	"ioTDeviceEvidence":          "iot_device",
	"gitHubOrganizationEvidence": "github_organization",
	"gitHubRepoEvidence":         "github_repo",
	"gitHubUserEvidence":         "github_user",
}

// The properties that name or identify an item of a type without a mapping of its own, in the
// order they are tried (the documented types' names: kubernetesPodEvidence's name,
// servicePrincipalEvidence's servicePrincipalObjectId, ...).
var (
	otherNames = []string{"displayName", "name", "resourceName", "deviceName", "agentName", "servicePrincipalName",
		"login", "domainName", "subject", "fullResourceName"}
	otherIDs = []string{"id", "resourceId", "amazonResourceId", "objectId", "servicePrincipalObjectId", "appId",
		"deviceId", "containerId", "imageId", "repoId", "userId", "orgId", "sessionId", "requestId", "configurationId",
		"networkMessageId", "submissionId", "agentId"}
)

// other keeps an evidence type this code does not know as an entity of its own type (its name
// in snake_case without "Evidence": kubernetesPodEvidence → kubernetes_pod) with whatever names
// and identifies it, never dropping it.
func other(name string, raw []byte) []envelope.Entity {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	first := func(keys ...string) string {
		for _, k := range keys {
			var s string
			if json.Unmarshal(m[k], &s) == nil && s != "" {
				return s
			}
		}
		return ""
	}
	id := first(otherIDs...)
	for _, k := range otherIDs {
		var n json.Number // a number id (Int64 in the metadata)
		if id == "" && json.Unmarshal(m[k], &n) == nil && n != "" {
			id = n.String()
		}
	}
	typ, ok := otherTypes[name]
	if !ok {
		typ = envelope.SnakeCase(strings.TrimSuffix(name, "Evidence"))
	}
	if typ == "" {
		typ = "evidence"
	}
	return []envelope.Entity{{Type: typ, Name: first(otherNames...), ID: id, Address: first("ipAddress"), URL: first("url")}}
}
