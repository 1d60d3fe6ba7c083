package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/alertexport/alertexport/internal/sim/endpoint"
	"github.com/alertexport/alertexport/internal/sim/simapi"
)

// The Microsoft Graph security alert (microsoft.graph.security.alert, the
// alerts_v2 collection), as microsoft-graph-docs-contrib
// api-reference/v1.0/resources/security-alert.md lists its properties and
// api-reference/v1.0/api/security-list-alerts_v2.md shows it. The stored
// resource page lists fewer properties than the service's v1.0 metadata;
// productName (named by concepts/alertsv1-alertsv2-migration.md),
// alertPolicyId and additionalData (the rendered Learn page), and
// investigationState and customDetails (the Graph v1.0 OpenAPI description,
// mirrored in api-evangelist/microsoft-graph json-schema) are modelled too.
// Enum members are the metadata's, in the order of their numeric values
// (the same mirror); where the resource page's prose disagrees (it names
// the determinations compromisedUser, clean, insufficientData and
// confirmedUserActivity), the metadata and the page's own member table win:
// compromisedAccount, notMalicious, notEnoughDataToValidate,
// confirmedActivity.
//
// Key order on the wire follows the documented example; the properties the
// example lacks come after systemTags.

// Enum members, in numeric order. Members after unknownFutureValue are
// evolvable: a client sees them only with "Prefer:
// include-unknown-enum-members" (security-alert.md; best-practices-concept.md
// "Evolvable enums").
var (
	graphServiceSources = []string{"unknown", "microsoftDefenderForEndpoint", "microsoftDefenderForIdentity",
		"microsoftDefenderForCloudApps", "microsoftDefenderForOffice365", "microsoft365Defender", "azureAdIdentityProtection",
		"microsoftAppGovernance", "dataLossPrevention", "unknownFutureValue", "microsoftDefenderForCloud", "microsoftSentinel",
		"microsoftInsiderRiskManagement", "microsoftThreatIntelligence"}
	graphDetectionSources = []string{"unknown", "microsoftDefenderForEndpoint", "antivirus", "smartScreen", "customTi",
		"microsoftDefenderForOffice365", "automatedInvestigation", "microsoftThreatExperts", "customDetection",
		"microsoftDefenderForIdentity", "cloudAppSecurity", "microsoft365Defender", "azureAdIdentityProtection", "manual",
		"microsoftDataLossPrevention", "appGovernancePolicy", "appGovernanceDetection", "unknownFutureValue",
		"microsoftDefenderForCloud", "microsoftDefenderForIoT", "microsoftDefenderForServers", "microsoftDefenderForStorage",
		"microsoftDefenderForDNS", "microsoftDefenderForDatabases", "microsoftDefenderForContainers",
		"microsoftDefenderForNetwork", "microsoftDefenderForAppService", "microsoftDefenderForKeyVault",
		"microsoftDefenderForResourceManager", "microsoftDefenderForApiManagement", "nrtAlerts", "scheduledAlerts",
		"microsoftDefenderThreatIntelligenceAnalytics", "builtInMl", "microsoftInsiderRiskManagement",
		"microsoftThreatIntelligence", "microsoftDefenderForAIServices", "securityCopilot", "microsoftSentinel"}
	graphStatuses        = []string{"unknown", "new", "inProgress", "resolved", "unknownFutureValue"}
	graphSeverities      = []string{"unknown", "informational", "low", "medium", "high", "unknownFutureValue"}
	graphClassifications = []string{"unknown", "falsePositive", "truePositive", "informationalExpectedActivity", "unknownFutureValue"}
	graphDeterminations  = []string{"unknown", "apt", "malware", "securityPersonnel", "securityTesting", "unwantedSoftware",
		"other", "multiStagedAttack", "compromisedAccount", "phishing", "maliciousUserActivity", "notMalicious",
		"notEnoughDataToValidate", "confirmedActivity", "lineOfBusinessApplication", "unknownFutureValue"}
	graphInvestigationStates = []string{"unknown", "terminated", "successfullyRemediated", "benign", "failed",
		"partiallyRemediated", "running", "pendingApproval", "pendingResource", "queued", "innerFailure",
		"preexistingAlert", "unsupportedOs", "unsupportedAlertType", "suppressedAlert", "partiallyInvestigated",
		"terminatedByUser", "terminatedBySystem", "unknownFutureValue"}
	graphEvidenceRoles = []string{"unknown", "contextual", "scanned", "source", "destination", "created", "added",
		"compromised", "edited", "attacked", "attacker", "commandAndControl", "loaded", "suspicious", "policyViolator",
		"unknownFutureValue"}
	graphVerdicts            = []string{"unknown", "suspicious", "malicious", "noThreatsFound", "unknownFutureValue"}
	graphRemediationStatuses = []string{"none", "remediated", "prevented", "blocked", "notFound", "unknownFutureValue",
		"active", "pendingApproval", "declined", "unremediated", "running", "partiallyRemediated"}
	graphDetectionStatuses = []string{"detected", "blocked", "prevented", "unknownFutureValue"}
)

const unknownFutureValue = "unknownFutureValue"

// shownMember is the member a client that did not opt in to unknown enum
// members is shown: the member itself, or unknownFutureValue for a member
// after the sentinel.
func shownMember(members []string, v string, includeUnknown bool) string {
	if includeUnknown {
		return v
	}
	s := slices.Index(members, unknownFutureValue)
	if i := slices.Index(members, v); s >= 0 && i > s {
		return unknownFutureValue
	}
	return v
}

// Alert is one alert of Graph's alerts_v2. The json tags name the wire
// properties; MarshalJSON and UnmarshalJSON convert to and from the wire
// form (all enum members as they are, as if the request had sent "Prefer:
// include-unknown-enum-members"). Nil pointers are null on the wire; nil
// slices are [] (collections are never null in OData).
type Alert struct {
	ID                    string     `json:"id"`
	ProviderAlertID       string     `json:"providerAlertId"`
	IncidentID            *string    `json:"incidentId"`
	Status                string     `json:"status"`
	Severity              string     `json:"severity"`
	Classification        string     `json:"classification"`
	Determination         string     `json:"determination"`
	ServiceSource         string     `json:"serviceSource"`
	DetectionSource       string     `json:"detectionSource"`
	DetectorID            *string    `json:"detectorId"`
	TenantID              string     `json:"tenantId"`
	Title                 string     `json:"title"`
	Description           string     `json:"description"`
	RecommendedActions    *string    `json:"recommendedActions"`
	Category              *string    `json:"category"`
	AssignedTo            *string    `json:"assignedTo"`
	AlertWebURL           *string    `json:"alertWebUrl"`
	IncidentWebURL        *string    `json:"incidentWebUrl"`
	ActorDisplayName      *string    `json:"actorDisplayName"`
	ThreatDisplayName     *string    `json:"threatDisplayName"`
	ThreatFamilyName      *string    `json:"threatFamilyName"`
	MitreTechniques       []string   `json:"mitreTechniques"`
	CreatedDateTime       *time.Time `json:"createdDateTime"`
	LastUpdateDateTime    *time.Time `json:"lastUpdateDateTime"`
	ResolvedDateTime      *time.Time `json:"resolvedDateTime"`
	FirstActivityDateTime *time.Time `json:"firstActivityDateTime"`
	LastActivityDateTime  *time.Time `json:"lastActivityDateTime"`
	Comments              []Comment  `json:"comments"`
	Evidence              []Evidence `json:"evidence"`
	SystemTags            []string   `json:"systemTags"`
	ProductName           *string    `json:"productName"`
	AlertPolicyID         *string    `json:"alertPolicyId"`
	InvestigationState    *string    `json:"investigationState"`
	// AdditionalData and CustomDetails are dictionaries (open types): their
	// JSON objects as served, nil for null.
	AdditionalData json.RawMessage `json:"additionalData"`
	CustomDetails  json.RawMessage `json:"customDetails"`
}

// Comment is one item of an alert's comments (alertComment).
type Comment struct {
	Comment              string    `json:"comment"`
	CreatedByDisplayName string    `json:"createdByDisplayName"`
	CreatedDateTime      time.Time `json:"createdDateTime"`
}

// Evidence is one item of an alert's evidence: an alertEvidence of a
// derived type, named by Type (its @odata.type, such as
// "#microsoft.graph.security.deviceEvidence"). The base type's properties
// are fields; the derived type's own properties are in Properties, each as
// its JSON value. On the wire every documented property of the type is
// present, null (or [] for a collection) when Properties lacks it.
type Evidence struct {
	Type                     string
	CreatedDateTime          *time.Time
	Verdict                  string
	RemediationStatus        string
	RemediationStatusDetails *string
	Roles                    []string
	DetailedRoles            []string
	Tags                     []string
	Properties               map[string]json.RawMessage
}

// evidenceProp is a documented property of an evidence type.
type evidenceProp struct {
	name string
	kind evidencePropKind
}

type evidencePropKind int

const (
	propScalar     evidencePropKind = iota // primitive or enum: null when absent
	propCollection                         // collection: [] when absent
	propComplex                            // single complex value: null when absent, written after tags
)

// graphEvidenceTypes are the evidence types the simulator serves, with
// their own documented properties (security-*evidence.md; the metadata
// mirror for the properties the stored pages predate), in the order of the
// documented example where it shows them.
var graphEvidenceTypes = map[string][]evidenceProp{
	"deviceEvidence": {{"firstSeenDateTime", propScalar}, {"mdeDeviceId", propScalar}, {"azureAdDeviceId", propScalar},
		{"deviceDnsName", propScalar}, {"hostName", propScalar}, {"ntDomain", propScalar}, {"dnsDomain", propScalar},
		{"osPlatform", propScalar}, {"osBuild", propScalar}, {"version", propScalar}, {"healthStatus", propScalar},
		{"riskScore", propScalar}, {"rbacGroupId", propScalar}, {"rbacGroupName", propScalar}, {"onboardingStatus", propScalar},
		{"defenderAvStatus", propScalar}, {"lastIpAddress", propScalar}, {"lastExternalIpAddress", propScalar},
		{"ipInterfaces", propCollection}, {"loggedOnUsers", propCollection}, {"vmMetadata", propComplex}},
	"fileEvidence": {{"detectionStatus", propScalar}, {"mdeDeviceId", propScalar}, {"fileDetails", propComplex}},
	"processEvidence": {{"processId", propScalar}, {"parentProcessId", propScalar}, {"processCommandLine", propScalar},
		{"processCreationDateTime", propScalar}, {"parentProcessCreationDateTime", propScalar}, {"detectionStatus", propScalar},
		{"mdeDeviceId", propScalar}, {"imageFile", propComplex}, {"parentProcessImageFile", propComplex}, {"userAccount", propComplex}},
	"registryKeyEvidence": {{"registryKey", propScalar}, {"registryHive", propScalar}},
	"registryValueEvidence": {{"mdeDeviceId", propScalar}, {"registryHive", propScalar}, {"registryKey", propScalar},
		{"registryValue", propScalar}, {"registryValueName", propScalar}, {"registryValueType", propScalar}},
	"userEvidence":    {{"userAccount", propComplex}, {"stream", propComplex}},
	"ipEvidence":      {{"ipAddress", propScalar}, {"countryLetterCode", propScalar}, {"location", propComplex}, {"stream", propComplex}},
	"urlEvidence":     {{"url", propScalar}},
	"mailboxEvidence": {{"displayName", propScalar}, {"primaryAddress", propScalar}, {"upn", propScalar}, {"userAccount", propComplex}},
	"analyzedMessageEvidence": {{"antiSpamDirection", propScalar}, {"attachmentsCount", propScalar}, {"deliveryAction", propScalar},
		{"deliveryLocation", propScalar}, {"internetMessageId", propScalar}, {"language", propScalar}, {"networkMessageId", propScalar},
		{"receivedDateTime", propScalar}, {"recipientEmailAddress", propScalar}, {"senderIp", propScalar}, {"subject", propScalar},
		{"threatDetectionMethods", propCollection}, {"threats", propCollection}, {"urlCount", propScalar}, {"urls", propCollection},
		{"urn", propScalar}, {"p1Sender", propComplex}, {"p2Sender", propComplex}},
	"mailClusterEvidence": {{"clusterBy", propScalar}, {"clusterByValue", propScalar}, {"emailCount", propScalar},
		{"networkMessageIds", propCollection}, {"query", propScalar}, {"urn", propScalar}},
	"cloudApplicationEvidence": {{"appId", propScalar}, {"displayName", propScalar}, {"instanceId", propScalar},
		{"instanceName", propScalar}, {"saasAppId", propScalar}, {"stream", propComplex}},
	"oauthApplicationEvidence": {{"appId", propScalar}, {"displayName", propScalar}, {"objectId", propScalar}, {"publisher", propScalar}},
	"securityGroupEvidence": {{"displayName", propScalar}, {"securityGroupId", propScalar}, {"activeDirectoryObjectGuid", propScalar},
		{"distinguishedName", propScalar}, {"friendlyName", propScalar}, {"sid", propScalar}},
	// From the 2026 evidence list (alertsv1-alertsv2-migration.md: "over 40
	// strongly typed evidence objects, such as userEvidence,
	// azureResourceEvidence, aiAgentEvidence").
	"azureResourceEvidence": {{"resourceId", propScalar}, {"resourceName", propScalar}, {"resourceType", propScalar}},
	"aiAgentEvidence":       {{"agentId", propScalar}, {"agentName", propScalar}, {"hostingPlatformType", propScalar}, {"instructions", propScalar}},
	"cloudLogonSessionEvidence": {{"browser", propScalar}, {"deviceName", propScalar}, {"operatingSystem", propScalar},
		{"previousLogonDateTime", propScalar}, {"protocol", propScalar}, {"sessionId", propScalar}, {"startUtcDateTime", propScalar},
		{"userAgent", propScalar}, {"account", propComplex}},
}

const graphEvidencePrefix = "#microsoft.graph.security."

// EvidenceTypes lists the evidence types the simulator serves, as
// their @odata.type values, sorted.
func EvidenceTypes() []string {
	out := make([]string, 0, len(graphEvidenceTypes))
	for name := range graphEvidenceTypes {
		out = append(out, graphEvidencePrefix+name)
	}
	sort.Strings(out)
	return out
}

// jsonRaw encodes v for Properties (encoding/json, without HTML escaping).
// Values the simulator builds always encode.
func jsonRaw(v any) json.RawMessage {
	b, err := simapi.EncodeWire(v)
	if err != nil {
		panic(fmt.Sprintf("simulator: encode %T: %v", v, err))
	}
	return b
}

// kv is one member of a JSON object being written in a chosen order.
type kv struct {
	key   string
	value []byte
}

// appendObject appends {"k":v,...} with the keys in the given order.
func appendObject(b []byte, members []kv) []byte {
	b = append(b, '{')
	for i, m := range members {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(m.key) // a string always encodes
		b = append(append(append(b, k...), ':'), m.value...)
	}
	return append(b, '}')
}

var jsonNull = []byte("null")

func jsonString(s string) []byte      { return jsonRaw(s) }
func jsonStrings(s []string) []byte   { return jsonRaw(orEmpty(s)) }
func jsonOptString(s *string) []byte  { return jsonRaw(s) }
func jsonOptTime(t *time.Time) []byte { return jsonRaw(endpoint.WireTime(t)) }
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// wire writes the evidence as served; remediationStatus members after
// unknownFutureValue are hidden unless includeUnknown.
func (e *Evidence) wire(includeUnknown bool) []byte {
	name := strings.TrimPrefix(e.Type, graphEvidencePrefix)
	props := graphEvidenceTypes[name]
	members := []kv{
		{"@odata.type", jsonString(e.Type)},
		{"createdDateTime", jsonOptTime(e.CreatedDateTime)},
		{"verdict", jsonString(e.Verdict)},
		{"remediationStatus", jsonString(shownMember(graphRemediationStatuses, e.RemediationStatus, includeUnknown))},
		{"remediationStatusDetails", jsonOptString(e.RemediationStatusDetails)},
	}
	value := func(p evidenceProp) []byte {
		if v, ok := e.Properties[p.name]; ok && len(v) > 0 {
			return v
		}
		if p.kind == propCollection {
			return []byte("[]")
		}
		return jsonNull
	}
	for _, p := range props {
		if p.kind != propComplex {
			members = append(members, kv{p.name, value(p)})
		}
	}
	members = append(members,
		kv{"roles", jsonStrings(e.Roles)}, kv{"detailedRoles", jsonStrings(e.DetailedRoles)}, kv{"tags", jsonStrings(e.Tags)})
	for _, p := range props {
		if p.kind == propComplex {
			members = append(members, kv{p.name, value(p)})
		}
	}
	// Properties the registry does not know (an evidence type the
	// simulator does not model, put by a test) follow in name order.
	var extra []string
	for k := range e.Properties {
		if !slices.ContainsFunc(props, func(p evidenceProp) bool { return p.name == k }) {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		members = append(members, kv{k, e.Properties[k]})
	}
	return appendObject(nil, members)
}

// MarshalJSON writes the evidence as the API does for a client that opted
// in to unknown enum members.
func (e Evidence) MarshalJSON() ([]byte, error) {
	return compactWire(e.wire(true))
}

// UnmarshalJSON reads an evidence item. Properties of the derived type
// whose value is null are left out of Properties (they are served as null
// anyway).
func (e *Evidence) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	out := Evidence{Properties: map[string]json.RawMessage{}}
	take := func(k string, v any) error {
		raw, ok := m[k]
		delete(m, k)
		if !ok {
			return nil
		}
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("evidence %s: %w", k, err)
		}
		return nil
	}
	var created *endpoint.Time
	errs := []error{take("@odata.type", &out.Type), take("createdDateTime", &created), take("verdict", &out.Verdict),
		take("remediationStatus", &out.RemediationStatus), take("remediationStatusDetails", &out.RemediationStatusDetails),
		take("roles", &out.Roles), take("detailedRoles", &out.DetailedRoles), take("tags", &out.Tags)}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	out.CreatedDateTime = endpoint.GoTime(created)
	for k, v := range m {
		if !bytes.Equal(bytes.TrimSpace(v), jsonNull) {
			out.Properties[k] = compactRaw(v)
		}
	}
	*e = out
	return nil
}

func compactRaw(v json.RawMessage) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, v); err != nil {
		return v
	}
	return buf.Bytes()
}

func compactWire(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// graphWireComment is Comment as written.
type graphWireComment struct {
	Comment              string        `json:"comment"`
	CreatedByDisplayName string        `json:"createdByDisplayName"`
	CreatedDateTime      endpoint.Time `json:"createdDateTime"`
}

// render writes the alert as the API serves it: "@odata.type" first, the
// documented example's key order, times in .NET's format (up to 7
// fractional digits, trailing zeros trimmed, as in the example:
// "2021-04-26T07:45:50.116Z", "2021-05-02T14:19:01.3266667Z"), non-ASCII
// escaped (encodeWire). Without includeUnknown, members of evolvable enums
// after unknownFutureValue read unknownFutureValue.
func (a *Alert) render(includeUnknown bool) ([]byte, error) {
	comments := make([]graphWireComment, 0, len(a.Comments))
	for _, c := range a.Comments {
		comments = append(comments, graphWireComment{Comment: c.Comment, CreatedByDisplayName: c.CreatedByDisplayName,
			CreatedDateTime: endpoint.Time(c.CreatedDateTime.UTC().Truncate(endpoint.Tick))})
	}
	evidence := []byte{'['}
	for i := range a.Evidence {
		if i > 0 {
			evidence = append(evidence, ',')
		}
		evidence = append(evidence, a.Evidence[i].wire(includeUnknown)...)
	}
	evidence = append(evidence, ']')
	dict := func(v json.RawMessage) []byte {
		if len(bytes.TrimSpace(v)) == 0 {
			return jsonNull
		}
		return v
	}
	members := []kv{
		{"@odata.type", jsonString("#microsoft.graph.security.alert")},
		{"id", jsonString(a.ID)},
		{"providerAlertId", jsonString(a.ProviderAlertID)},
		{"incidentId", jsonOptString(a.IncidentID)},
		{"status", jsonString(a.Status)},
		{"severity", jsonString(a.Severity)},
		{"classification", jsonString(a.Classification)},
		{"determination", jsonString(a.Determination)},
		{"serviceSource", jsonString(shownMember(graphServiceSources, a.ServiceSource, includeUnknown))},
		{"detectionSource", jsonString(shownMember(graphDetectionSources, a.DetectionSource, includeUnknown))},
		{"detectorId", jsonOptString(a.DetectorID)},
		{"tenantId", jsonString(a.TenantID)},
		{"title", jsonString(a.Title)},
		{"description", jsonString(a.Description)},
		{"recommendedActions", jsonOptString(a.RecommendedActions)},
		{"category", jsonOptString(a.Category)},
		{"assignedTo", jsonOptString(a.AssignedTo)},
		{"alertWebUrl", jsonOptString(a.AlertWebURL)},
		{"incidentWebUrl", jsonOptString(a.IncidentWebURL)},
		{"actorDisplayName", jsonOptString(a.ActorDisplayName)},
		{"threatDisplayName", jsonOptString(a.ThreatDisplayName)},
		{"threatFamilyName", jsonOptString(a.ThreatFamilyName)},
		{"mitreTechniques", jsonStrings(a.MitreTechniques)},
		{"createdDateTime", jsonOptTime(a.CreatedDateTime)},
		{"lastUpdateDateTime", jsonOptTime(a.LastUpdateDateTime)},
		{"resolvedDateTime", jsonOptTime(a.ResolvedDateTime)},
		{"firstActivityDateTime", jsonOptTime(a.FirstActivityDateTime)},
		{"lastActivityDateTime", jsonOptTime(a.LastActivityDateTime)},
		{"comments", jsonRaw(comments)},
		{"evidence", evidence},
		{"systemTags", jsonStrings(a.SystemTags)},
		{"productName", jsonOptString(a.ProductName)},
		{"alertPolicyId", jsonOptString(a.AlertPolicyID)},
		{"investigationState", jsonOptString(a.InvestigationState)},
		{"additionalData", dict(a.AdditionalData)},
		{"customDetails", dict(a.CustomDetails)},
	}
	// Every member is compact JSON (encodeWire's, or Properties compacted
	// when decoded), so the document is too.
	return simapi.AppendEscapedNonASCII(nil, appendObject(nil, members)), nil
}

// hidesMembers says whether the alert has a member of an evolvable enum
// after unknownFutureValue, which a client that did not opt in is shown
// differently.
func (a *Alert) hidesMembers() bool {
	if shownMember(graphServiceSources, a.ServiceSource, false) != a.ServiceSource ||
		shownMember(graphDetectionSources, a.DetectionSource, false) != a.DetectionSource {
		return true
	}
	return slices.ContainsFunc(a.Evidence, func(e Evidence) bool {
		return shownMember(graphRemediationStatuses, e.RemediationStatus, false) != e.RemediationStatus
	})
}

// MarshalJSON writes the alert as the API does for a client that opted in
// to unknown enum members.
func (a Alert) MarshalJSON() ([]byte, error) { return a.render(true) }

// graphWireAlert reads an alert: the plain properties by tag, the rest by
// hand.
type graphWireAlert struct {
	ID                    string             `json:"id"`
	ProviderAlertID       string             `json:"providerAlertId"`
	IncidentID            *string            `json:"incidentId"`
	Status                string             `json:"status"`
	Severity              string             `json:"severity"`
	Classification        string             `json:"classification"`
	Determination         string             `json:"determination"`
	ServiceSource         string             `json:"serviceSource"`
	DetectionSource       string             `json:"detectionSource"`
	DetectorID            *string            `json:"detectorId"`
	TenantID              string             `json:"tenantId"`
	Title                 string             `json:"title"`
	Description           string             `json:"description"`
	RecommendedActions    *string            `json:"recommendedActions"`
	Category              *string            `json:"category"`
	AssignedTo            *string            `json:"assignedTo"`
	AlertWebURL           *string            `json:"alertWebUrl"`
	IncidentWebURL        *string            `json:"incidentWebUrl"`
	ActorDisplayName      *string            `json:"actorDisplayName"`
	ThreatDisplayName     *string            `json:"threatDisplayName"`
	ThreatFamilyName      *string            `json:"threatFamilyName"`
	MitreTechniques       []string           `json:"mitreTechniques"`
	CreatedDateTime       *endpoint.Time     `json:"createdDateTime"`
	LastUpdateDateTime    *endpoint.Time     `json:"lastUpdateDateTime"`
	ResolvedDateTime      *endpoint.Time     `json:"resolvedDateTime"`
	FirstActivityDateTime *endpoint.Time     `json:"firstActivityDateTime"`
	LastActivityDateTime  *endpoint.Time     `json:"lastActivityDateTime"`
	Comments              []graphWireComment `json:"comments"`
	Evidence              []Evidence         `json:"evidence"`
	SystemTags            []string           `json:"systemTags"`
	ProductName           *string            `json:"productName"`
	AlertPolicyID         *string            `json:"alertPolicyId"`
	InvestigationState    *string            `json:"investigationState"`
	AdditionalData        json.RawMessage    `json:"additionalData"`
	CustomDetails         json.RawMessage    `json:"customDetails"`
}

// UnmarshalJSON reads an alert in the API's form (any RFC 3339 time). Nil
// slices come back empty, null dictionaries nil.
func (a *Alert) UnmarshalJSON(b []byte) error {
	var w graphWireAlert
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	dict := func(v json.RawMessage) json.RawMessage {
		if len(v) == 0 || bytes.Equal(bytes.TrimSpace(v), jsonNull) {
			return nil
		}
		return compactRaw(v)
	}
	out := Alert{
		ID: w.ID, ProviderAlertID: w.ProviderAlertID, IncidentID: w.IncidentID, Status: w.Status, Severity: w.Severity,
		Classification: w.Classification, Determination: w.Determination, ServiceSource: w.ServiceSource,
		DetectionSource: w.DetectionSource, DetectorID: w.DetectorID, TenantID: w.TenantID, Title: w.Title,
		Description: w.Description, RecommendedActions: w.RecommendedActions, Category: w.Category, AssignedTo: w.AssignedTo,
		AlertWebURL: w.AlertWebURL, IncidentWebURL: w.IncidentWebURL, ActorDisplayName: w.ActorDisplayName,
		ThreatDisplayName: w.ThreatDisplayName, ThreatFamilyName: w.ThreatFamilyName, MitreTechniques: orEmpty(w.MitreTechniques),
		CreatedDateTime: endpoint.GoTime(w.CreatedDateTime), LastUpdateDateTime: endpoint.GoTime(w.LastUpdateDateTime),
		ResolvedDateTime: endpoint.GoTime(w.ResolvedDateTime), FirstActivityDateTime: endpoint.GoTime(w.FirstActivityDateTime),
		LastActivityDateTime: endpoint.GoTime(w.LastActivityDateTime), Comments: make([]Comment, 0, len(w.Comments)),
		Evidence: orEmpty(w.Evidence), SystemTags: orEmpty(w.SystemTags), ProductName: w.ProductName,
		AlertPolicyID: w.AlertPolicyID, InvestigationState: w.InvestigationState,
		AdditionalData: dict(w.AdditionalData), CustomDetails: dict(w.CustomDetails),
	}
	for _, c := range w.Comments {
		out.Comments = append(out.Comments, Comment{Comment: c.Comment, CreatedByDisplayName: c.CreatedByDisplayName, CreatedDateTime: time.Time(c.CreatedDateTime)})
	}
	for i := range out.Evidence {
		out.Evidence[i].Roles = orEmpty(out.Evidence[i].Roles)
		out.Evidence[i].DetailedRoles = orEmpty(out.Evidence[i].DetailedRoles)
		out.Evidence[i].Tags = orEmpty(out.Evidence[i].Tags)
	}
	*a = out
	return nil
}

// truncateTimes truncates the alert's times to 100 ns, the precision the
// API serves (on copies: the pointers may be shared with the caller).
func (a *Alert) truncateTimes() {
	trunc := func(p **time.Time) {
		if *p != nil {
			c := (*p).UTC().Truncate(endpoint.Tick)
			*p = &c
		}
	}
	trunc(&a.CreatedDateTime)
	trunc(&a.LastUpdateDateTime)
	trunc(&a.ResolvedDateTime)
	trunc(&a.FirstActivityDateTime)
	trunc(&a.LastActivityDateTime)
	for i := range a.Comments {
		a.Comments[i].CreatedDateTime = a.Comments[i].CreatedDateTime.UTC().Truncate(endpoint.Tick)
	}
	ev := slices.Clone(a.Evidence)
	for i := range ev {
		trunc(&ev[i].CreatedDateTime)
	}
	a.Evidence = ev
}

// UnknownFutureValue is the member of Graph's evolvable enumerations after
// which members are shown only to clients that ask for them.
const UnknownFutureValue = unknownFutureValue

// DocumentedValues are the members of the alert's enumerations, by JSON
// property (verdict and remediationStatus are an evidence's): oracles for
// tests of generated alerts. Fresh copies.
func DocumentedValues() map[string][]string {
	return map[string][]string{
		"status":            slices.Clone(graphStatuses),
		"severity":          slices.Clone(graphSeverities),
		"classification":    slices.Clone(graphClassifications),
		"determination":     slices.Clone(graphDeterminations),
		"serviceSource":     slices.Clone(graphServiceSources),
		"detectionSource":   slices.Clone(graphDetectionSources),
		"verdict":           slices.Clone(graphVerdicts),
		"remediationStatus": slices.Clone(graphRemediationStatuses),
	}
}
