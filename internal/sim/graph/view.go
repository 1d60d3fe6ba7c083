package graph

import (
	"crypto/md5" //nolint:gosec // a name-based (version 3) UUID is MD5 by definition (RFC 4122 §4.3)
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/alertexport/alertexport/internal/sim/cloudapps"
	"github.com/alertexport/alertexport/internal/sim/endpoint"
	"github.com/alertexport/alertexport/internal/sim/simapi"
)

// The Endpoint and Cloud Apps alerts as Graph shows them: each version of
// an alert in those parts converts, by a pure function of the version (and
// of the tenant and seed for what Graph adds), into a Graph version. What
// maps to what, and what is invented, is written next to each field.
//
// Identifiers:
//   - Defender for Endpoint: Graph's id and providerAlertId are the MDE
//     alert id ("da637551227677560813_-961444813" for all three in the
//     documented example of security-list-alerts_v2.md).
//   - Defender for Cloud Apps: providerAlertId is the Cloud Apps _id, "the
//     ID of the alert as it appears in the security provider product"
//     (security-alert.md); id is the Defender XDR alert id, "ca" and an
//     upper-case GUID ("caD70CFEE2-1F54-32DB-9988-3A868A1EBFAC" in Defender
//     XDR's List incidents example, api-list-incidents.md). That GUID is a
//     name-based (MD5, version 3) UUID; the name XDR hashes is not
//     documented, so the simulator hashes tenant and _id. A client must
//     read the id, never compute it, and join the two APIs on
//     providerAlertId.
//
// Standalone alerts: "Alerts that exist outside of the Microsoft 365
// Defender incident model, including standalone detections not promoted to
// an incident, aren't returned by the v2 API" (alertsv1-alertsv2-migration.md,
// Known differences). An Endpoint version whose incidentId is null is
// therefore not shown: the alert is absent from Graph while its newest
// visible version has no incident. Cloud Apps alerts carry no incident in
// their own API; Graph gives each one (an invented number).

// viewOfEndpoint converts an Endpoint version, memoized; nil when Graph does not
// show it. t.mu must be held.
func (t *Tenant) viewOfEndpoint(v *endpoint.Revision) *graphRevision {
	if r, ok := t.fromEndpoint[v]; ok {
		return r
	}
	var r *graphRevision
	a, err := v.Decode()
	if err != nil {
		panic(fmt.Sprintf("simulator: stored endpoint alert does not decode: %v", err))
	}
	if g, ok := t.srv.graphFromEndpoint(&a); ok {
		if r, err = t.srv.newGraphRevision(&g, time.Time{}); err != nil {
			panic(err) // converted alerts always render
		}
	}
	t.fromEndpoint[v] = r
	return r
}

// viewOfCloudApps converts a Cloud Apps revision, memoized. t.mu must be held.
func (t *Tenant) viewOfCloudApps(v *cloudapps.Revision) *graphRevision {
	if r, ok := t.fromCloudApps[v]; ok {
		return r
	}
	a, err := v.Decode()
	if err != nil {
		panic(fmt.Sprintf("simulator: stored cloud apps alert does not decode: %v", err))
	}
	g := t.srv.graphFromCloudApps(t.key, &a)
	r, err := t.srv.newGraphRevision(&g, time.Time{})
	if err != nil {
		panic(err)
	}
	t.fromCloudApps[v] = r
	return r
}

// viewRand is a generator for the values Graph adds to an alert of another
// part: seeded by the server's seed and the alert's id, so every version of
// the alert gets the same ones.
func (s *API) viewRand(id string) simapi.Draws {
	h := fnv.New64a()
	h.Write([]byte(id))
	return simapi.Draws{RNG: rand.New(rand.NewPCG(uint64(s.Seed)^graphAPISalt, h.Sum64()))}
}

// cloudAppsGraphID is the Graph id of Cloud Apps alert id in tenant key.
func (s *API) cloudAppsGraphID(key, id string) string {
	sum := md5.Sum([]byte(key + "/" + id)) //nolint:gosec // see the import
	sum[6] = sum[6]&0x0f | 0x30
	sum[8] = sum[8]&0x3f | 0x80
	return "ca" + strings.ToUpper(simapi.FormatGUID(sum))
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

// Defender for Endpoint → Graph enum values. Severity and status are the
// same members in camelCase; classification, determination and detection
// source are mapped by meaning (alerts.md lists the MDE members; Graph's
// metadata the Graph ones). The documented example shows an antivirus
// detection as detectionSource "antivirus".
var (
	endpointGraphSeverity = map[string]string{"UnSpecified": "unknown", "Informational": "informational", "Low": "low",
		"Medium": "medium", "High": "high"}
	endpointGraphStatus = map[string]string{"Unknown": "unknown", "New": "new", "InProgress": "inProgress", "Resolved": "resolved"}
	endpointGraphClass  = map[string]string{"TruePositive": "truePositive", "FalsePositive": "falsePositive",
		"InformationalExpectedActivity": "informationalExpectedActivity"}
	endpointGraphDetermination = map[string]string{"MultiStagedAttack": "multiStagedAttack", "MaliciousUserActivity": "maliciousUserActivity",
		"CompromisedUser": "compromisedAccount", "Malware": "malware", "Phishing": "phishing", "UnwantedSoftware": "unwantedSoftware",
		"Other": "other", "SecurityTesting": "securityTesting", "LineOfBusinessApplication": "lineOfBusinessApplication",
		"ConfirmedUserActivity": "confirmedActivity", "Clean": "notMalicious", "InsufficientData": "notEnoughDataToValidate"}
	endpointGraphDetectionSource = map[string]string{"WindowsDefenderAtp": "microsoftDefenderForEndpoint", "WindowsDefenderAv": "antivirus",
		"WindowsDefenderSmartScreen": "smartScreen", "CustomerTI": "customTi", "AutomatedInvestigation": "automatedInvestigation",
		"CustomDetection": "customDetection", "MTP": "microsoft365Defender", "Manual": "manual"}
)

func mapOr(m map[string]string, k string, def string) string {
	if v, ok := m[k]; ok {
		return v
	}
	return def
}

// graphRecommendedActions: Graph adds recommended actions; the first is the
// documented example's, kept verbatim (its bullets are U+FFFD in the
// document).
var graphRecommendedActions = []string{
	"Collect artifacts and determine scope\n\uFFFD\tReview the machine timeline for suspicious activities that may have occurred before and after the time of the alert, and record additional related artifacts (files, IPs/URLs) \n\uFFFD\tLook for the presence of relevant artifacts on other systems. Identify commonalities and differences between potentially compromised systems.\n\uFFFD\tSubmit relevant files for deep analysis and review resulting detailed behavioral information.\n\uFFFD\tSubmit undetected files to the MMPC malware portal\n\nInitiate containment & mitigation \n\uFFFD\tContact the user to verify intent and initiate local remediation actions as needed.\n\uFFFD\tUpdate AV signatures and run a full scan. The scan might reveal and remove previously-undetected malware components.\n\uFFFD\tEnsure that the machine has the latest security updates. In particular, ensure that you have installed the latest software, web browser, and Operating System versions.\n\uFFFD\tIf credential theft is suspected, reset all relevant users passwords.\n\uFFFD\tBlock communication with relevant URLs or IPs at the organization\uFFFDs perimeter.",
	"1. Make sure the machine is completely updated and all your software has the latest patch.\n2. Contact your incident response team.\n3. Review the timeline of the device <host> & the process tree.",
	"Überprüfen Sie die Zeitachse des Geräts und isolieren Sie es bei Bedarf.",
	"",
}

func portalURL(kind, id, tenant string) *string {
	return simapi.Ptr("https://security.microsoft.com/" + kind + "/" + id + "?tid=" + tenant)
}

// graphFromEndpoint converts an MDE alert; false when Graph does not show
// it (no incident, or no time to version it by).
func (s *API) graphFromEndpoint(a *endpoint.Alert) (Alert, bool) {
	if a.IncidentID == nil {
		return Alert{}, false
	}
	updated := a.LastUpdateTime
	if updated == nil {
		// Choice: Graph's lastUpdateDateTime is the MDE lastUpdateTime;
		// when that is null, the creation time.
		updated = a.AlertCreationTime
	}
	if updated == nil {
		return Alert{}, false
	}
	d := s.viewRand(a.ID)
	incident := strconv.FormatInt(*a.IncidentID, 10)
	g := Alert{
		ID:                    a.ID,
		ProviderAlertID:       a.ID,
		IncidentID:            &incident,
		Status:                mapOr(endpointGraphStatus, a.Status, "unknown"),
		Severity:              mapOr(endpointGraphSeverity, a.Severity, "unknown"),
		Classification:        "unknown",
		Determination:         "unknown",
		ServiceSource:         "microsoftDefenderForEndpoint",
		DetectionSource:       mapOr(endpointGraphDetectionSource, a.DetectionSource, "unknown"),
		DetectorID:            simapi.ClonePtr(a.DetectorID),
		TenantID:              a.AADTenantID,
		Title:                 a.Title,
		Description:           a.Description,
		RecommendedActions:    simapi.Ptr(d.Pick(graphRecommendedActions)),
		Category:              simapi.Ptr(a.Category),
		AssignedTo:            simapi.ClonePtr(a.AssignedTo),
		AlertWebURL:           portalURL("alerts", a.ID, a.AADTenantID),
		IncidentWebURL:        portalURL("incidents", incident, a.AADTenantID),
		ThreatDisplayName:     simapi.ClonePtr(a.ThreatName),
		ThreatFamilyName:      simapi.ClonePtr(a.ThreatFamilyName),
		MitreTechniques:       append([]string{}, a.MitreTechniques...),
		CreatedDateTime:       simapi.ClonePtr(a.AlertCreationTime),
		LastUpdateDateTime:    simapi.ClonePtr(updated),
		ResolvedDateTime:      simapi.ClonePtr(a.ResolvedTime),
		FirstActivityDateTime: simapi.ClonePtr(a.FirstEventTime),
		LastActivityDateTime:  simapi.ClonePtr(a.LastEventTime),
		Comments:              make([]Comment, 0, len(a.Comments)),
		SystemTags:            []string{},
		ProductName:           simapi.Ptr("Microsoft Defender for Endpoint"),
	}
	if a.Classification != nil {
		g.Classification = mapOr(endpointGraphClass, *a.Classification, "unknown")
	}
	if a.Determination != nil {
		g.Determination = mapOr(endpointGraphDetermination, *a.Determination, "unknown")
	}
	if a.InvestigationState != nil {
		g.InvestigationState = simapi.Ptr(lowerFirst(*a.InvestigationState))
	}
	if d.Chance(0.05) {
		g.SystemTags = []string{"Defender Experts"}
	}
	for _, c := range a.Comments {
		g.Comments = append(g.Comments, Comment{Comment: c.Comment, CreatedByDisplayName: c.CreatedBy, CreatedDateTime: c.CreatedTime})
	}
	g.Evidence = append(g.Evidence, s.endpointDeviceEvidence(a, g.Severity, g.Classification))
	for i := range a.Evidence {
		if ev, ok := endpointEvidence(a, &a.Evidence[i], d); ok {
			g.Evidence = append(g.Evidence, ev)
		}
	}
	return g, true
}

// verdictFor is the verdict of evidence of an alert classified c.
func verdictFor(c string, detected bool) string {
	switch {
	case c == "truePositive" || detected:
		return "malicious"
	case c == "falsePositive" || c == "informationalExpectedActivity":
		return "noThreatsFound"
	}
	return "suspicious"
}

var graphOSPlatforms = []struct {
	platform, version string
	build             int
}{
	{"Windows10", "22H2", 19045}, {"Windows11", "23H2", 22631}, {"Windows11", "24H2", 26100},
	{"WindowsServer2019", "1809", 17763}, {"WindowsServer2022", "21H2", 20348}, {"Linux", "Other", 0}, {"macOS", "14.5", 0},
}

// endpointDeviceEvidence is the alert's device (machineId, computerDnsName,
// rbacGroupName), as deviceEvidence. Graph adds what the MDE alert does not
// carry (OS, health, risk); those values are drawn per device.
func (s *API) endpointDeviceEvidence(a *endpoint.Alert, severity, class string) Evidence {
	d := s.viewRand(a.MachineID)
	host, domain, _ := strings.Cut(a.ComputerDNSName, ".")
	os := graphOSPlatforms[d.RNG.IntN(len(graphOSPlatforms))]
	var build any = os.build
	if os.build == 0 {
		build = nil
	}
	var first *time.Time
	if a.AlertCreationTime != nil {
		first = simapi.Ptr(a.AlertCreationTime.Add(-time.Duration(1+d.RNG.IntN(700)) * 24 * time.Hour).Add(-time.Duration(d.RNG.Int64N(int64(24 * time.Hour)))))
	}
	ip := fmt.Sprintf("10.%d.%d.%d", d.RNG.IntN(256), d.RNG.IntN(256), 1+d.RNG.IntN(254))
	props := map[string]any{
		"firstSeenDateTime": endpoint.WireTime(first),
		"mdeDeviceId":       a.MachineID,
		"deviceDnsName":     a.ComputerDNSName,
		"hostName":          host,
		"dnsDomain":         domain,
		"ntDomain":          strings.ToUpper(strings.Split(domain+".", ".")[0]),
		"osPlatform":        os.platform,
		"osBuild":           build,
		"version":           os.version,
		"healthStatus":      []string{"active", "active", "active", "inactive", "impairedCommunication"}[d.RNG.IntN(5)],
		"riskScore":         map[string]string{"unknown": "none"}[severity],
		"onboardingStatus":  "onboarded",
		"defenderAvStatus":  []string{"updated", "updated", "notUpdated", "notReporting"}[d.RNG.IntN(4)],
		"lastIpAddress":     ip,
		"ipInterfaces":      []string{ip},
		"loggedOnUsers":     []any{},
	}
	if props["riskScore"] == "" {
		props["riskScore"] = severity
	}
	if d.Chance(0.4) {
		props["azureAdDeviceId"] = d.GUID()
	}
	if a.RBACGroupName != nil {
		props["rbacGroupName"] = *a.RBACGroupName
		props["rbacGroupId"] = 1 + d.RNG.IntN(200)
	}
	if d.Chance(0.3) {
		props["lastExternalIpAddress"] = fmt.Sprintf("%d.%d.%d.%d", 20+d.RNG.IntN(180), d.RNG.IntN(256), d.RNG.IntN(256), 1+d.RNG.IntN(254))
	}
	if strings.HasPrefix(host, "srv") || d.Chance(0.1) {
		sub := d.GUID()
		props["vmMetadata"] = map[string]any{"vmId": d.GUID(), "cloudProvider": "azure",
			"resourceId":     "/subscriptions/" + sub + "/resourceGroups/rg-" + host + "/providers/Microsoft.Compute/virtualMachines/" + host,
			"subscriptionId": sub}
	}
	if a.RelatedUser != nil {
		props["loggedOnUsers"] = []map[string]string{{"accountName": a.RelatedUser.UserName, "domainName": a.RelatedUser.DomainName}}
	}
	roles := []string{}
	if class == "truePositive" || severity == "high" {
		roles = []string{"compromised"}
	}
	return Evidence{
		Type: graphEvidencePrefix + "deviceEvidence", CreatedDateTime: simapi.ClonePtr(a.AlertCreationTime),
		Verdict: verdictFor(class, false), RemediationStatus: "none",
		Roles: roles, DetailedRoles: []string{"Main device"}, Tags: []string{},
		Properties: rawProps(props),
	}
}

func rawProps(m map[string]any) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		out[k] = jsonRaw(v)
	}
	return out
}

// fileDetails is the fileDetails complex type, in the documented example's
// key order.
type fileDetails struct {
	Sha1          *string `json:"sha1"`
	Sha256        *string `json:"sha256"`
	FileName      *string `json:"fileName"`
	FilePath      *string `json:"filePath"`
	FileSize      *int64  `json:"fileSize"`
	FilePublisher *string `json:"filePublisher"`
	Signer        *string `json:"signer"`
	Issuer        *string `json:"issuer"`
	Md5           *string `json:"md5"`
}

// userAccount is the userAccount complex type, in the documented example's
// key order.
type userAccount struct {
	AccountName               *string `json:"accountName"`
	DomainName                *string `json:"domainName"`
	UserSid                   *string `json:"userSid"`
	AzureAdUserID             *string `json:"azureAdUserId"`
	UserPrincipalName         *string `json:"userPrincipalName"`
	DisplayName               *string `json:"displayName"`
	ActiveDirectoryObjectGUID *string `json:"activeDirectoryObjectGuid"`
	ResourceAccessEvents      []any   `json:"resourceAccessEvents"`
}

func newUserAccount(name, domain, sid, aad, upn, display *string) userAccount {
	return userAccount{AccountName: name, DomainName: domain, UserSid: sid, AzureAdUserID: aad, UserPrincipalName: upn,
		DisplayName: display, ResourceAccessEvents: []any{}}
}

var publishers = []string{"Microsoft Corporation", "Microsoft Windows", "Contoso Ltd.", "Mozilla Corporation"}

// endpointEvidence converts one MDE evidence item; false for one Graph has no
// type for.
func endpointEvidence(a *endpoint.Alert, e *endpoint.Evidence, d simapi.Draws) (Evidence, bool) {
	detection := ""
	if e.DetectionStatus != nil {
		detection = lowerFirst(*e.DetectionStatus)
	}
	class := mapOr(endpointGraphClass, deref(a.Classification), "unknown")
	g := Evidence{CreatedDateTime: simapi.ClonePtr(e.EvidenceCreationTime), Verdict: verdictFor(class, detection != ""),
		RemediationStatus: "none", Roles: []string{}, DetailedRoles: []string{}, Tags: []string{}}
	switch detection {
	case "blocked", "prevented":
		g.RemediationStatus = detection
	}
	props := map[string]any{}
	var detectionValue any
	if detection != "" {
		detectionValue = detection
	}
	file := func() fileDetails {
		f := fileDetails{Sha1: e.Sha1, Sha256: e.Sha256, FileName: e.FileName, FilePath: e.FilePath}
		if e.FileName != nil {
			f.FileSize = simapi.Ptr(int64(1024 + d.RNG.IntN(8<<20)))
			if d.Chance(0.5) {
				f.FilePublisher = simapi.Ptr(d.Pick(publishers))
			}
		}
		return f
	}
	switch e.EntityType {
	case "User":
		g.Type = "userEvidence"
		props["userAccount"] = newUserAccount(e.AccountName, e.DomainName, e.UserSid, e.AADUserID, e.UserPrincipalName, e.AccountName)
		g.Roles = []string{"compromised"}
	case "Process":
		g.Type = "processEvidence"
		props["processId"], props["parentProcessId"], props["processCommandLine"] = e.ProcessID, e.ParentProcessID, e.ProcessCommandLine
		props["processCreationDateTime"], props["parentProcessCreationDateTime"] = endpoint.WireTime(e.ProcessCreationTime), endpoint.WireTime(e.ParentProcessCreationTime)
		props["detectionStatus"], props["mdeDeviceId"] = detectionValue, a.MachineID
		props["imageFile"] = file()
		props["parentProcessImageFile"] = fileDetails{FileName: e.ParentProcessFileName, FilePath: e.ParentProcessFilePath}
		if a.RelatedUser != nil {
			props["userAccount"] = newUserAccount(&a.RelatedUser.UserName, &a.RelatedUser.DomainName, nil, nil, nil, nil)
		}
	case "File":
		g.Type = "fileEvidence"
		props["detectionStatus"], props["mdeDeviceId"], props["fileDetails"] = detectionValue, a.MachineID, file()
		if e.FilePath != nil && strings.Contains(strings.ToLower(*e.FilePath), "temp") {
			g.DetailedRoles = []string{"Referred in command line"}
		}
	case "Ip":
		g.Type = "ipEvidence"
		props["ipAddress"] = e.IPAddress
		if e.IPAddress != nil && !strings.HasPrefix(*e.IPAddress, "10.") && !strings.HasPrefix(*e.IPAddress, "fe80") {
			props["countryLetterCode"] = d.Pick([]string{"US", "DE", "NL", "RU", "BR", "JP"})
		}
	case "Url":
		g.Type = "urlEvidence"
		props["url"] = e.URL
	case "Registry":
		key := deref(e.RegistryKey)
		if e.RegistryHive != nil {
			key = strings.TrimPrefix(key, *e.RegistryHive+`\`)
		}
		if e.RegistryValue != nil {
			g.Type = "registryValueEvidence"
			props["mdeDeviceId"], props["registryHive"], props["registryKey"] = a.MachineID, e.RegistryHive, key
			props["registryValue"], props["registryValueType"] = e.RegistryValue, e.RegistryValueType
			props["registryValueName"] = d.Pick([]string{"Updater", "Start", "DisableAntiSpyware", "Debugger", "(Default)"})
		} else {
			g.Type = "registryKeyEvidence"
			props["registryKey"], props["registryHive"] = key, e.RegistryHive
		}
	case "MailBox":
		g.Type = "mailboxEvidence"
		props["displayName"], props["primaryAddress"], props["upn"] = e.AccountName, e.UserPrincipalName, e.UserPrincipalName
		props["userAccount"] = newUserAccount(e.AccountName, e.DomainName, e.UserSid, e.AADUserID, e.UserPrincipalName, e.AccountName)
	case "MailMessage":
		g.Type = "analyzedMessageEvidence"
		for k, v := range analyzedMessage(d, e.EvidenceCreationTime) {
			props[k] = v
		}
	case "MailCluster":
		g.Type = "mailClusterEvidence"
		for k, v := range mailCluster(d) {
			props[k] = v
		}
	case "SecurityGroup":
		g.Type = "securityGroupEvidence"
		props["displayName"], props["securityGroupId"], props["sid"] = e.AccountName, e.AADUserID, e.UserSid
		if e.AccountName != nil && e.DomainName != nil {
			props["friendlyName"] = *e.DomainName + `\` + *e.AccountName
		}
	default:
		return Evidence{}, false
	}
	g.Type = graphEvidencePrefix + g.Type
	g.Properties = rawProps(props)
	return g, true
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

var mailSubjects = []string{"Invoice #4711 overdue", "[EXTERNAL] Attention", "Rechnung März – bitte prüfen", "請求書のご確認",
	"Your password expires today 🔒", "RE: Q3 <confidential> & final"}

// analyzedMessage draws the properties of an analyzedMessageEvidence.
func analyzedMessage(d simapi.Draws, at *time.Time) map[string]any {
	received := time.Now().UTC()
	if at != nil {
		received = at.Add(-time.Duration(d.RNG.Int64N(int64(time.Hour))))
	}
	urls := []string{"https://login.micros0ft-secure.com/owa/?user=anna.schmidt", "https://bücher.example/rechnung?id=4711&lang=de"}[:d.RNG.IntN(3)]
	threats := []string{}
	if d.Chance(0.6) {
		threats = []string{d.Pick([]string{"Phish", "Malware", "Spam", "HighConfPhish"})}
	}
	return map[string]any{
		"antiSpamDirection": d.Pick([]string{"inbound", "outbound", "intraorg"}), "attachmentsCount": d.RNG.IntN(4),
		"deliveryAction":    d.Pick([]string{"delivered", "deliveredAsSpam", "junked", "blocked", "replaced"}),
		"deliveryLocation":  d.Pick([]string{"inbox", "external", "junkFolder", "quarantine", "failed", "dropped", "deletedFolder", "forwarded"}),
		"internetMessageId": "<" + d.Hex(24) + "@mail.contoso.co.in>", "language": d.Pick([]string{"en", "de", "ja", "ar"}),
		"networkMessageId": d.GUID(), "receivedDateTime": endpoint.WireTime(&received),
		"recipientEmailAddress": d.Pick([]string{"anna.schmidt@contoso.com", "juergen.mueller@contoso.de", "tanaka.hiroshi@fabrikam.co.jp"}),
		"senderIp":              fmt.Sprintf("%d.%d.%d.%d", 40+d.RNG.IntN(150), d.RNG.IntN(256), d.RNG.IntN(256), 1+d.RNG.IntN(254)),
		"subject":               d.Pick(mailSubjects), "threatDetectionMethods": []string{d.Pick([]string{"urlDetonationReputation", "fileReputation", "spoofDmarc"})},
		"threats": threats, "urlCount": len(urls), "urls": urls,
		"urn":      "urn:MailEntity:" + d.Hex(32),
		"p1Sender": map[string]any{"displayName": "Billing", "domainName": "mail.contoso.co.in", "emailAddress": "user.abc@mail.contoso.co.in"},
		"p2Sender": map[string]any{"displayName": "Billing Dept.", "domainName": "contoso.co.in", "emailAddress": "billing@contoso.co.in"},
	}
}

// mailCluster draws the properties of a mailClusterEvidence.
func mailCluster(d simapi.Draws) map[string]any {
	by := d.Pick([]string{"Subject;P2SenderDomain;ContentType", "Subject;SenderIp;ContentType", "BodyFingerprintBin1;P2SenderDomain;ContentType"})
	n := 1 + d.RNG.IntN(5)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = d.GUID()
	}
	return map[string]any{"clusterBy": by, "clusterByValue": d.Hex(40), "emailCount": n * (1 + d.RNG.IntN(20)),
		"networkMessageIds": ids, "query": "(Subject:\"" + d.Pick(mailSubjects) + "\") AND (Sender:\"user.abc@mail.contoso.co.in\")",
		"urn": "urn:MailClusterEntity:" + d.Hex(32)}
}

// Defender for Cloud Apps → Graph. Severity: 0 LOW, 1 MEDIUM, 2 HIGH, 3
// INFORMATIONAL (api-alerts.md). Status: open → new (inProgress once an
// analyst handles it: handledByUser set), closed → resolved. Classification
// from the resolution: 3 FALSE_POSITIVE, 4 BENIGN, 5 TRUE_POSITIVE; 1
// DISMISSED and 2 RESOLVED leave it unknown (choice). Category from the
// first MITRE tactic of intent.
var (
	cloudAppsGraphSeverity = []string{"low", "medium", "high", "informational"}
	cloudAppsGraphCategory = []string{"SuspiciousActivity", "Reconnaissance", "InitialAccess", "Persistence", "PrivilegeEscalation",
		"DefenseEvasion", "CredentialAccess", "Discovery", "LateralMovement", "Execution", "Collection", "Exfiltration",
		"CommandAndControl", "Impact"}
)

// graphFromCloudApps converts a Cloud Apps alert. Its lastUpdateDateTime is
// its version in the product's sense (docs/messages.md): timestamp while it is open,
// resolveTime once closed. Marking it read changes nothing Graph shows.
func (s *API) graphFromCloudApps(key string, a *cloudapps.Alert) Alert {
	id := s.cloudAppsGraphID(key, a.ID)
	d := s.viewRand(id)
	incident := strconv.Itoa(10_000 + d.RNG.IntN(90_000))
	ts := a.Timestamp
	updated := a.VersionTime()
	analyst := a.HandledByUser
	if analyst != nil && (*analyst == "" || *analyst == "null") {
		analyst = nil
	}
	g := Alert{
		ID:                    id,
		ProviderAlertID:       a.ID,
		IncidentID:            &incident,
		Status:                "new",
		Severity:              "unknown",
		Classification:        "unknown",
		Determination:         "unknown",
		ServiceSource:         "microsoftDefenderForCloudApps",
		DetectionSource:       "cloudAppSecurity",
		DetectorID:            simapi.Ptr(simapi.NameGUID("cas detector " + a.Title)),
		TenantID:              a.ContextID,
		Title:                 a.Title,
		Description:           a.Description,
		RecommendedActions:    simapi.Ptr(""),
		Category:              simapi.Ptr("SuspiciousActivity"),
		AssignedTo:            simapi.ClonePtr(analyst),
		AlertWebURL:           portalURL("alerts", id, a.ContextID),
		IncidentWebURL:        portalURL("incidents", incident, a.ContextID),
		MitreTechniques:       []string{},
		CreatedDateTime:       &ts,
		LastUpdateDateTime:    &updated,
		FirstActivityDateTime: &ts,
		LastActivityDateTime:  &ts,
		Comments:              []Comment{},
		SystemTags:            []string{},
		ProductName:           simapi.Ptr("Microsoft Defender for Cloud Apps"),
		// As in Defender XDR's List incidents example for a Cloud Apps alert.
		InvestigationState: simapi.Ptr("unsupportedAlertType"),
	}
	if a.SeverityValue >= 0 && a.SeverityValue < len(cloudAppsGraphSeverity) {
		g.Severity = cloudAppsGraphSeverity[a.SeverityValue]
	}
	if len(a.Intent) > 0 && a.Intent[0] >= 0 && a.Intent[0] < len(cloudAppsGraphCategory) {
		g.Category = simapi.Ptr(cloudAppsGraphCategory[a.Intent[0]])
	}
	switch {
	case a.ResolutionStatusValue != 0:
		g.Status = "resolved"
		g.ResolvedDateTime = simapi.ClonePtr(a.ResolveTime)
	case analyst != nil:
		g.Status = "inProgress"
	}
	switch a.ResolutionStatusValue {
	case 3:
		g.Classification, g.Determination = "falsePositive", "other"
	case 4:
		g.Classification, g.Determination = "informationalExpectedActivity", "confirmedActivity"
	case 5:
		g.Classification, g.Determination = "truePositive", "other"
	}
	if a.ResolutionStatusValue != 0 && a.Comment != nil && *a.Comment != "" && *a.Comment != "null" && a.ResolveTime != nil {
		by := "Automation"
		if analyst != nil {
			by = *analyst
		}
		g.Comments = append(g.Comments, Comment{Comment: *a.Comment, CreatedByDisplayName: by, CreatedDateTime: *a.ResolveTime})
	}
	entities := a.Entities
	if a.Policy != nil {
		entities = append(entities[:len(entities):len(entities)], *a.Policy)
	}
	for _, e := range entities {
		if e.Type == "policyRule" && g.AlertPolicyID == nil {
			g.AlertPolicyID = simapi.Ptr(e.ID)
		}
		if ev, ok := cloudAppsEvidence(&e, ts, g.Classification); ok {
			g.Evidence = append(g.Evidence, ev)
		}
	}
	return g
}

// cloudAppsEvidence converts one Cloud Apps entity; false for a policy.
func cloudAppsEvidence(e *cloudapps.Entity, at time.Time, class string) (Evidence, bool) {
	g := Evidence{CreatedDateTime: &at, Verdict: verdictFor(class, false), RemediationStatus: "none",
		Roles: []string{}, DetailedRoles: []string{}, Tags: []string{}}
	if e.EntityRole == "Source" {
		g.Roles = []string{"source"}
	}
	props := map[string]any{}
	switch e.Type {
	case "account", "user":
		g.Type = "userEvidence"
		upn := e.Pa
		if upn == "" && strings.Contains(e.ID, "@") {
			upn = e.ID
		}
		local, domain, _ := strings.Cut(upn, "@")
		var aad *string
		if len(e.ID) == 36 && strings.Count(e.ID, "-") == 4 {
			aad = simapi.Ptr(e.ID)
		}
		ua := newUserAccount(nonEmpty(local), nonEmpty(domain), nil, aad, nonEmpty(upn), nonEmpty(e.Label))
		props["userAccount"] = ua
	case "service":
		g.Type = "cloudApplicationEvidence"
		appID, _ := strconv.ParseInt(e.ID, 10, 64)
		inst := 0
		if e.Inst != nil {
			inst = *e.Inst
		}
		props["appId"], props["displayName"], props["instanceId"], props["instanceName"], props["saasAppId"] = appID, e.Label, inst, e.Label, appID
	case "device":
		g.Type = "deviceEvidence"
		props["deviceDnsName"], props["hostName"] = e.Label, e.Label
		props["ipInterfaces"], props["loggedOnUsers"] = []string{}, []any{}
		if e.EntityRole == "Related" {
			g.Roles = []string{"contextual"}
		}
	case "ip":
		g.Type = "ipEvidence"
		props["ipAddress"] = e.ID
	case "file":
		g.Type = "fileEvidence"
		props["fileDetails"] = fileDetails{FileName: simapi.Ptr(e.Label)}
	case "groupTag":
		g.Type = "securityGroupEvidence"
		props["displayName"], props["securityGroupId"] = e.Label, e.ID
	default:
		return Evidence{}, false
	}
	g.Type = graphEvidencePrefix + g.Type
	g.Properties = rawProps(props)
	return g, true
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
