package sim

import (
	"strings"
	"time"
)

// The $filter subset of the MDE alerts API: the shared OData parser
// (filter.go) with the properties of an MDE alert version.
//
// What get-alerts.md documents: $filter on alertCreationTime,
// lastUpdateTime, incidentId, InvestigationId, id, asssignedTo [sic],
// detectionSource, lastEventTime, status, severity and category; the
// operators the Microsoft examples and common clients use (eq ne gt ge lt
// le, and, or); unquoted DateTimeOffset literals; single-quoted strings.
//
// Choices where Microsoft is silent (each the stricter plausible answer),
// besides those of filter.go:
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
var endpointFilterSchema = func() *filterSchema[alertKeys] {
	props := []*filterProp[alertKeys]{
		{name: "alertCreationTime", kind: kindDateTime, edm: "Edm.DateTimeOffset", time: func(k *alertKeys) *time.Time { return k.alertCreationTime }},
		{name: "lastUpdateTime", kind: kindDateTime, edm: "Edm.DateTimeOffset", time: func(k *alertKeys) *time.Time { return k.lastUpdateTime }},
		{name: "lastEventTime", kind: kindDateTime, edm: "Edm.DateTimeOffset", time: func(k *alertKeys) *time.Time { return k.lastEventTime }},
		{name: "incidentId", kind: kindLong, edm: "Edm.Int64", long: func(k *alertKeys) *int64 { return k.incidentID }},
		{name: "investigationId", kind: kindLong, edm: "Edm.Int64", long: func(k *alertKeys) *int64 { return k.investigationID }},
		{name: "id", kind: kindString, edm: "Edm.String", str: func(k *alertKeys) *string { return &k.id }},
		{name: "assignedTo", kind: kindString, edm: "Edm.String", str: func(k *alertKeys) *string { return k.assignedTo }},
		{name: "detectionSource", kind: kindString, edm: "Edm.String", str: func(k *alertKeys) *string { return &k.detectionSource }},
		{name: "category", kind: kindString, edm: "Edm.String", str: func(k *alertKeys) *string { return &k.category }},
		{name: "status", kind: kindEnum, edm: "AlertStatus", members: endpointStatuses, sentinel: -1, str: func(k *alertKeys) *string { return &k.status }},
		{name: "severity", kind: kindEnum, edm: "AlertSeverity", members: endpointSeverities, sentinel: -1, str: func(k *alertKeys) *string { return &k.severity }},
	}
	m := make(map[string]*filterProp[alertKeys], len(props)+1)
	for _, p := range props {
		m[strings.ToLower(p.name)] = p
	}
	m["asssignedto"] = m["assignedto"]
	return &filterSchema[alertKeys]{entity: "Alert", props: m, foldNames: true, foldEnums: true, dateOnly: true}
}()

// alertKeys are the filterable values of one alert version.
type alertKeys struct {
	id, detectionSource, category, status, severity  string
	assignedTo                                       *string
	incidentID, investigationID                      *int64
	alertCreationTime, lastUpdateTime, lastEventTime *time.Time
}

func keysOf(a *EndpointAlert) alertKeys {
	k := alertKeys{
		id: a.ID, detectionSource: a.DetectionSource, category: a.Category, status: a.Status, severity: a.Severity,
		assignedTo: cloneptr(a.AssignedTo), incidentID: cloneptr(a.IncidentID), investigationID: cloneptr(a.InvestigationID),
		alertCreationTime: cloneptr(a.AlertCreationTime), lastUpdateTime: cloneptr(a.LastUpdateTime), lastEventTime: cloneptr(a.LastEventTime),
	}
	return k
}

func cloneptr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// parseEndpointFilter parses a $filter value into a predicate.
func parseEndpointFilter(src string) (func(*alertKeys) bool, error) {
	return parseFilter(src, endpointFilterSchema, filterOptions{})
}
