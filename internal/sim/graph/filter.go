package graph

import (
	"time"

	"github.com/alertexport/alertexport/internal/sim/odata"
	"github.com/alertexport/alertexport/internal/sim/simapi"
)

// The $filter of alerts_v2: the shared OData parser (package odata) with the
// properties security-list-alerts_v2.md lists: "The following properties
// support $filter: assignedTo, classification, determination,
// createdDateTime, lastUpdateDateTime, severity, serviceSource and status."
// Filtering on any other property is a 400 (a filter on
// investigationState "returns HTTP 400", microsoft/zerotrustassessment
// PR #1414).
//
// Choices where Microsoft is silent, besides those of package odata:
//   - property names and enum literals are case-sensitive, as the metadata
//     spells them ('new', not 'New'): the stricter reading of ODL;
//   - enums compare by their members' numeric values (the order the
//     metadata lists them), so gt/ge/lt/le work, with the evolvable-enum
//     rules of Microsoft's Graph guidelines for unknownFutureValue and the
//     members after it (see compareEnum);
//   - DateTimeOffset literals need a time and an offset (Z or ±hh:mm), with
//     0 to 7 fractional digits; a bare date is refused.

// graphKeys are the filterable values of one alert version.
type graphKeys struct {
	created, lastUpdate                                            *time.Time
	serviceSource, severity, status, classification, determination string
	assignedTo                                                     *string
}

func graphKeysOf(a *Alert) graphKeys {
	return graphKeys{
		created: simapi.ClonePtr(a.CreatedDateTime), lastUpdate: simapi.ClonePtr(a.LastUpdateDateTime),
		serviceSource: a.ServiceSource, severity: a.Severity, status: a.Status,
		classification: a.Classification, determination: a.Determination, assignedTo: simapi.ClonePtr(a.AssignedTo),
	}
}

// graphAlertProps are the alert's other properties: naming one in $filter
// gets its own message.
var graphAlertProps = []string{"id", "providerAlertId", "incidentId", "detectionSource", "detectorId", "tenantId", "title",
	"description", "recommendedActions", "category", "alertWebUrl", "incidentWebUrl", "actorDisplayName",
	"threatDisplayName", "threatFamilyName", "mitreTechniques", "resolvedDateTime", "firstActivityDateTime",
	"lastActivityDateTime", "comments", "evidence", "systemTags", "productName", "alertPolicyId", "investigationState",
	"additionalData", "customDetails"}

var graphFilterSchema = func() *odata.Schema[graphKeys] {
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
		enum("serviceSource", "microsoft.graph.security.serviceSource", graphServiceSources, func(k *graphKeys) *string { return &k.serviceSource }),
		enum("severity", "microsoft.graph.security.alertSeverity", graphSeverities, func(k *graphKeys) *string { return &k.severity }),
		enum("status", "microsoft.graph.security.alertStatus", graphStatuses, func(k *graphKeys) *string { return &k.status }),
		enum("classification", "microsoft.graph.security.alertClassification", graphClassifications, func(k *graphKeys) *string { return &k.classification }),
		enum("determination", "microsoft.graph.security.alertDetermination", graphDeterminations, func(k *graphKeys) *string { return &k.determination }),
	}
	m := make(map[string]*odata.Prop[graphKeys], len(props))
	for _, p := range props {
		m[p.Name] = p
	}
	return &odata.Schema[graphKeys]{
		Entity: "microsoft.graph.security.alert", Props: m, OrderedEnums: true,
		Unfilterable: graphAlertProps,
		UnfilterableHint: "; List alerts_v2 filters on assignedTo, classification, determination, createdDateTime, " +
			"lastUpdateDateTime, severity, serviceSource and status only.",
	}
}()

// parseGraphFilter parses a $filter value into a predicate.
func parseGraphFilter(src string, includeUnknownEnums bool) (func(*graphKeys) bool, error) {
	return odata.Parse(src, graphFilterSchema, odata.Options{IncludeUnknownEnums: includeUnknownEnums})
}
