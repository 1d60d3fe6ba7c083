package graph

import (
	"time"

	"github.com/alertexport/alertexport/internal/sim/odata"
	"github.com/alertexport/alertexport/internal/sim/simapi"
)

// The $filter of List incidents: the shared OData parser with the properties
// learn.microsoft.com/graph/api/security-list-incidents lists: "The
// following properties support $filter: assignedTo, classification,
// createdDateTime, determination, lastUpdateDateTime, severity, and status."
// Any other property is a 400, as alerts_v2 answers; the choices are
// alerts_v2's (filter.go): case-sensitive names and members (the lower camel
// case ones, whatever style an incident is written in), enums ordered by
// their numeric values, evolvable members (awaitingAction) only with
// "Prefer: include-unknown-enum-members".

func incidentKeysOf(inc *Incident) graphKeys {
	created, updated := inc.CreatedDateTime, inc.LastUpdateDateTime
	return graphKeys{
		created: &created, lastUpdate: &updated,
		severity: inc.Severity, status: inc.Status, classification: inc.Classification,
		determination: inc.Determination, assignedTo: simapi.ClonePtr(inc.AssignedTo),
	}
}

// incidentProps are the incident's other properties: naming one in $filter
// gets its own message.
var incidentProps = []string{"id", "incidentWebUrl", "redirectIncidentId", "tenantId", "displayName", "customTags",
	"comments", "systemTags", "description", "summary", "alerts"}

var incidentFilterSchema = func() *odata.Schema[graphKeys] {
	enum := func(name, edm string, members []string, get func(*graphKeys) *string) *odata.Prop[graphKeys] {
		s := -1
		for i, m := range members {
			if m == unknownFutureValue {
				s = i
			}
		}
		return &odata.Prop[graphKeys]{Name: name, Kind: odata.KindEnum, Edm: edm, Members: members, Sentinel: s, Str: get}
	}
	props := []*odata.Prop[graphKeys]{
		{Name: "createdDateTime", Kind: odata.KindDateTime, Edm: "Edm.DateTimeOffset", Time: func(k *graphKeys) *time.Time { return k.created }},
		{Name: "lastUpdateDateTime", Kind: odata.KindDateTime, Edm: "Edm.DateTimeOffset", Time: func(k *graphKeys) *time.Time { return k.lastUpdate }},
		{Name: "assignedTo", Kind: odata.KindString, Edm: "Edm.String", Str: func(k *graphKeys) *string { return k.assignedTo }},
		enum("severity", "microsoft.graph.security.alertSeverity", graphSeverities, func(k *graphKeys) *string { return &k.severity }),
		enum("status", "microsoft.graph.security.incidentStatus", incidentStatuses, func(k *graphKeys) *string { return &k.status }),
		enum("classification", "microsoft.graph.security.alertClassification", graphClassifications, func(k *graphKeys) *string { return &k.classification }),
		enum("determination", "microsoft.graph.security.alertDetermination", graphDeterminations, func(k *graphKeys) *string { return &k.determination }),
	}
	m := make(map[string]*odata.Prop[graphKeys], len(props))
	for _, p := range props {
		m[p.Name] = p
	}
	return &odata.Schema[graphKeys]{
		Entity: "microsoft.graph.security.incident", Props: m, OrderedEnums: true,
		Unfilterable: incidentProps,
		UnfilterableHint: "; List incidents filters on assignedTo, classification, createdDateTime, determination, " +
			"lastUpdateDateTime, severity and status only.",
	}
}()

// parseIncidentFilter parses a $filter value of List incidents into a predicate.
func parseIncidentFilter(src string, includeUnknownEnums bool) (func(*graphKeys) bool, error) {
	return odata.Parse(src, incidentFilterSchema, odata.Options{IncludeUnknownEnums: includeUnknownEnums})
}
