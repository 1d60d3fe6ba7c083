package endpoint

import (
	"strings"
	"time"

	"github.com/alertexport/alertexport/internal/sim/odata"
	"github.com/alertexport/alertexport/internal/sim/simapi"
)

// The $filter subset of the MDE alerts API: the shared OData parser
// (package odata) with the properties of an MDE alert version.
//
// What get-alerts.md documents: $filter on alertCreationTime,
// lastUpdateTime, incidentId, InvestigationId, id, asssignedTo [sic],
// detectionSource, lastEventTime, status, severity and category; the
// operators the Microsoft examples and common clients use (eq ne gt ge lt
// le, and, or); unquoted DateTimeOffset literals; single-quoted strings.
//
// Choices where Microsoft is silent (each the stricter plausible answer),
// besides those of package odata:
//   - property names are matched case-insensitively (the doc itself writes
//     InvestigationId; ASP.NET Core OData resolves case-insensitively by
//     default);
//   - status and severity take eq and ne only: the underlying values of the
//     enums, which ordering would compare, are not documented;
//   - enum literals are case-insensitive (ODL's case-insensitive resolver);
//   - the date-only literals YYYY-MM-DD and YYYY-MM-DDZ are accepted
//     ("lastSeen gt 2018-08-01Z" in the machines examples).

// endpointFilterSchema: the documented filterable properties, by lower-case
// name. "asssignedTo" is the doc's own spelling, accepted as well as the
// real name.
var endpointFilterSchema = func() *odata.Schema[alertKeys] {
	props := []*odata.Prop[alertKeys]{
		{Name: "alertCreationTime", Kind: odata.KindDateTime, Edm: "Edm.DateTimeOffset", Time: func(k *alertKeys) *time.Time { return k.alertCreationTime }},
		{Name: "lastUpdateTime", Kind: odata.KindDateTime, Edm: "Edm.DateTimeOffset", Time: func(k *alertKeys) *time.Time { return k.lastUpdateTime }},
		{Name: "lastEventTime", Kind: odata.KindDateTime, Edm: "Edm.DateTimeOffset", Time: func(k *alertKeys) *time.Time { return k.lastEventTime }},
		{Name: "incidentId", Kind: odata.KindLong, Edm: "Edm.Int64", Long: func(k *alertKeys) *int64 { return k.incidentID }},
		{Name: "investigationId", Kind: odata.KindLong, Edm: "Edm.Int64", Long: func(k *alertKeys) *int64 { return k.investigationID }},
		{Name: "id", Kind: odata.KindString, Edm: "Edm.String", Str: func(k *alertKeys) *string { return &k.id }},
		{Name: "assignedTo", Kind: odata.KindString, Edm: "Edm.String", Str: func(k *alertKeys) *string { return k.assignedTo }},
		{Name: "detectionSource", Kind: odata.KindString, Edm: "Edm.String", Str: func(k *alertKeys) *string { return &k.detectionSource }},
		{Name: "category", Kind: odata.KindString, Edm: "Edm.String", Str: func(k *alertKeys) *string { return &k.category }},
		{Name: "status", Kind: odata.KindEnum, Edm: "AlertStatus", Members: endpointStatuses, Sentinel: -1, Str: func(k *alertKeys) *string { return &k.status }},
		{Name: "severity", Kind: odata.KindEnum, Edm: "AlertSeverity", Members: endpointSeverities, Sentinel: -1, Str: func(k *alertKeys) *string { return &k.severity }},
	}
	m := make(map[string]*odata.Prop[alertKeys], len(props)+1)
	for _, p := range props {
		m[strings.ToLower(p.Name)] = p
	}
	m["asssignedto"] = m["assignedto"]
	return &odata.Schema[alertKeys]{Entity: "Alert", Props: m, FoldNames: true, FoldEnums: true, DateOnly: true}
}()

// alertKeys are the filterable values of one alert version.
type alertKeys struct {
	id, detectionSource, category, status, severity  string
	assignedTo                                       *string
	incidentID, investigationID                      *int64
	alertCreationTime, lastUpdateTime, lastEventTime *time.Time
}

func keysOf(a *Alert) alertKeys {
	k := alertKeys{
		id: a.ID, detectionSource: a.DetectionSource, category: a.Category, status: a.Status, severity: a.Severity,
		assignedTo: simapi.ClonePtr(a.AssignedTo), incidentID: simapi.ClonePtr(a.IncidentID), investigationID: simapi.ClonePtr(a.InvestigationID),
		alertCreationTime: simapi.ClonePtr(a.AlertCreationTime), lastUpdateTime: simapi.ClonePtr(a.LastUpdateTime), lastEventTime: simapi.ClonePtr(a.LastEventTime),
	}
	return k
}

// parseEndpointFilter parses a $filter value into a predicate.
func parseEndpointFilter(src string) (func(*alertKeys) bool, error) {
	return odata.Parse(src, endpointFilterSchema, odata.Options{})
}
