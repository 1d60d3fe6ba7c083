package graph

import (
	"slices"
	"strings"
	"time"

	"github.com/alertexport/alertexport/internal/sim/endpoint"
	"github.com/alertexport/alertexport/internal/sim/simapi"
)

// The Microsoft Graph security incident (microsoft.graph.security.incident),
// as learn.microsoft.com/graph/api/resources/security-incident lists its
// properties and learn.microsoft.com/graph/api/security-list-incidents shows
// it. Key order on the wire follows List incidents' examples; summary, which
// they lack, comes after description, and alerts (only with $expand=alerts)
// last.
//
// Microsoft's two examples disagree on the wire form: the first writes enum
// members in PascalCase ("TruePositive", "MultiStagedAttack", "Active",
// "Medium") with customTags, the second in lower camel case with the custom
// tags under "tags". The resource page and the metadata say lower camel case
// and customTags. Which form the service sends is unknown, so a seeded share
// of incidents (IncidentTenant.SetStyleShare) is written in each example's
// form: a client must read enums without regard to case and accept both tag
// keys.

// Enum members, in numeric order. incidentStatus's awaitingAction comes after
// unknownFutureValue: "You must use the Prefer: include-unknown-enum-members
// request header to get the following values in this evolvable enum:
// awaitingAction" (security-incident.md). Severity, classification and
// determination are the alert's enums (alertSeverity, alertClassification,
// alertDetermination), with the metadata's members as for alerts_v2.
var incidentStatuses = []string{"active", "resolved", "inProgress", "redirected", "unknownFutureValue", "awaitingAction"}

// IncidentStyle is how an incident is written on the wire.
type IncidentStyle int

const (
	// IncidentStyleMetadata writes enum members in lower camel case and the
	// custom tags as customTags, as the resource page and the metadata do.
	IncidentStyleMetadata IncidentStyle = iota
	// IncidentStylePascalCase writes classification, determination, status
	// and severity in PascalCase ("TruePositive", "Active"), with customTags:
	// List incidents' first example.
	IncidentStylePascalCase
	// IncidentStyleTags writes the custom tags as "tags" instead of
	// customTags, enums in lower camel case: List incidents' second example.
	IncidentStyleTags
)

// Incident is one incident of Graph's security incidents. Its alerts are
// not part of it: they are Graph alerts whose incidentId is the incident's
// id (IncidentTenant.Latest lists them).
type Incident struct {
	ID                 string
	TenantID           string
	DisplayName        string
	Description        string
	Severity           string // alertSeverity member, lower camel case
	Status             string // incidentStatus member, lower camel case
	Classification     string // alertClassification member
	Determination      string // alertDetermination member
	AssignedTo         *string
	CreatedDateTime    time.Time
	LastUpdateDateTime time.Time
	IncidentWebURL     string
	// RedirectIncidentID is the incident this one was merged into, with
	// Status "redirected"; nil otherwise.
	RedirectIncidentID *string
	CustomTags         []string
	SystemTags         []string
	Comments           []IncidentComment
	Summary            *string
	// Style is the incident's wire form (see IncidentStyle); filters and
	// the store always use the lower camel case members.
	Style IncidentStyle
}

// IncidentComment is one item of an incident's comments, with the property
// names of List incidents' examples (comment, createdBy, createdTime).
type IncidentComment struct {
	Comment     string
	CreatedBy   string
	CreatedTime time.Time
}

// clone is a deep copy of the incident, so a stored state is never shared
// with a caller.
func (inc Incident) clone() Incident {
	inc.AssignedTo = simapi.ClonePtr(inc.AssignedTo)
	inc.RedirectIncidentID = simapi.ClonePtr(inc.RedirectIncidentID)
	inc.Summary = simapi.ClonePtr(inc.Summary)
	inc.CustomTags = slices.Clone(orEmpty(inc.CustomTags))
	inc.SystemTags = slices.Clone(orEmpty(inc.SystemTags))
	inc.Comments = slices.Clone(orEmpty(inc.Comments))
	return inc
}

// incidentTime writes a time with 7 fractional digits, as every time of List
// incidents' examples is written ("2021-09-30T09:35:45.1133333Z").
func incidentTime(t time.Time) []byte {
	return jsonString(t.UTC().Truncate(endpoint.Tick).Format("2006-01-02T15:04:05.0000000Z"))
}

// pascal is the PascalCase form of an enum member.
func pascal(member string) string {
	if member == "" {
		return member
	}
	return strings.ToUpper(member[:1]) + member[1:]
}

// renderHead writes the incident as served, without its closing brace, so
// that the alerts of $expand=alerts can follow. Without includeUnknown,
// awaitingAction reads unknownFutureValue.
func (inc *Incident) renderHead(includeUnknown bool) []byte {
	enum := func(v string) []byte {
		if inc.Style == IncidentStylePascalCase {
			v = pascal(v)
		}
		return jsonString(v)
	}
	tagsKey := "customTags"
	if inc.Style == IncidentStyleTags {
		tagsKey = "tags"
	}
	comments := make([]byte, 0, 64)
	comments = append(comments, '[')
	for i, c := range inc.Comments {
		if i > 0 {
			comments = append(comments, ',')
		}
		comments = appendObject(comments, []kv{{"comment", jsonString(c.Comment)}, {"createdBy", jsonString(c.CreatedBy)},
			{"createdTime", incidentTime(c.CreatedTime)}})
	}
	comments = append(comments, ']')
	members := []kv{
		{"@odata.type", jsonString("#microsoft.graph.security.incident")},
		{"id", jsonString(inc.ID)},
		{"incidentWebUrl", jsonString(inc.IncidentWebURL)},
		{"redirectIncidentId", jsonOptString(inc.RedirectIncidentID)},
		{"tenantId", jsonString(inc.TenantID)},
		{"displayName", jsonString(inc.DisplayName)},
		{"createdDateTime", incidentTime(inc.CreatedDateTime)},
		{"lastUpdateDateTime", incidentTime(inc.LastUpdateDateTime)},
		{"assignedTo", jsonOptString(inc.AssignedTo)},
		{"classification", enum(inc.Classification)},
		{"determination", enum(inc.Determination)},
		{"status", enum(shownMember(incidentStatuses, inc.Status, includeUnknown))},
		{"severity", enum(inc.Severity)},
		{tagsKey, jsonStrings(inc.CustomTags)},
		{"comments", comments},
		{"systemTags", jsonStrings(inc.SystemTags)},
		{"description", jsonString(inc.Description)},
		{"summary", jsonOptString(inc.Summary)},
	}
	obj := appendObject(nil, members)
	return simapi.AppendEscapedNonASCII(nil, obj[:len(obj)-1])
}

// hidesMembers says whether a client that did not opt in to unknown enum
// members is shown the incident differently.
func (inc *Incident) hidesMembers() bool {
	return shownMember(incidentStatuses, inc.Status, false) != inc.Status
}
