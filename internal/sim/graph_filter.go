package sim

import "time"

// The $filter of alerts_v2: the shared OData parser (filter.go) with the
// properties security-list-alerts_v2.md lists: "The following properties
// support $filter: assignedTo, classification, determination,
// createdDateTime, lastUpdateDateTime, severity, serviceSource and status."
// Filtering on any other property is a 400 (a filter on
// investigationState "returns HTTP 400", microsoft/zerotrustassessment
// PR #1414).
//
// Choices where Microsoft is silent, besides those of filter.go:
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

func graphKeysOf(a *GraphAlert) graphKeys {
	return graphKeys{
		created: cloneptr(a.CreatedDateTime), lastUpdate: cloneptr(a.LastUpdateDateTime),
		serviceSource: a.ServiceSource, severity: a.Severity, status: a.Status,
		classification: a.Classification, determination: a.Determination, assignedTo: cloneptr(a.AssignedTo),
	}
}

// graphAlertProps are the alert's other properties: naming one in $filter
// gets its own message.
var graphAlertProps = []string{"id", "providerAlertId", "incidentId", "detectionSource", "detectorId", "tenantId", "title",
	"description", "recommendedActions", "category", "alertWebUrl", "incidentWebUrl", "actorDisplayName",
	"threatDisplayName", "threatFamilyName", "mitreTechniques", "resolvedDateTime", "firstActivityDateTime",
	"lastActivityDateTime", "comments", "evidence", "systemTags", "productName", "alertPolicyId", "investigationState",
	"additionalData", "customDetails"}

var graphFilterSchema = func() *filterSchema[graphKeys] {
	enum := func(name, edm string, members []string, get func(*graphKeys) *string) *filterProp[graphKeys] {
		s := -1
		for i, m := range members {
			if m == unknownFutureValue {
				s = i
			}
		}
		return &filterProp[graphKeys]{name: name, kind: kindEnum, edm: edm, members: members, sentinel: s, str: get}
	}
	props := []*filterProp[graphKeys]{
		{name: "createdDateTime", kind: kindDateTime, edm: "Edm.DateTimeOffset", time: func(k *graphKeys) *time.Time { return k.created }},
		{name: "lastUpdateDateTime", kind: kindDateTime, edm: "Edm.DateTimeOffset", time: func(k *graphKeys) *time.Time { return k.lastUpdate }},
		{name: "assignedTo", kind: kindString, edm: "Edm.String", str: func(k *graphKeys) *string { return k.assignedTo }},
		enum("serviceSource", "microsoft.graph.security.serviceSource", graphServiceSources, func(k *graphKeys) *string { return &k.serviceSource }),
		enum("severity", "microsoft.graph.security.alertSeverity", graphSeverities, func(k *graphKeys) *string { return &k.severity }),
		enum("status", "microsoft.graph.security.alertStatus", graphStatuses, func(k *graphKeys) *string { return &k.status }),
		enum("classification", "microsoft.graph.security.alertClassification", graphClassifications, func(k *graphKeys) *string { return &k.classification }),
		enum("determination", "microsoft.graph.security.alertDetermination", graphDeterminations, func(k *graphKeys) *string { return &k.determination }),
	}
	m := make(map[string]*filterProp[graphKeys], len(props))
	for _, p := range props {
		m[p.name] = p
	}
	return &filterSchema[graphKeys]{
		entity: "microsoft.graph.security.alert", props: m, orderedEnums: true,
		unfilterable: graphAlertProps,
		unfilterableHint: "; List alerts_v2 filters on assignedTo, classification, determination, createdDateTime, " +
			"lastUpdateDateTime, severity, serviceSource and status only.",
	}
}()

// parseGraphFilter parses a $filter value into a predicate.
func parseGraphFilter(src string, includeUnknownEnums bool) (func(*graphKeys) bool, error) {
	return parseFilter(src, graphFilterSchema, filterOptions{includeUnknownEnums: includeUnknownEnums})
}
