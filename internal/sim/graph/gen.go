package graph

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alertexport/alertexport/internal/sim/cloudapps"
	"github.com/alertexport/alertexport/internal/sim/endpoint"
	"github.com/alertexport/alertexport/internal/sim/simapi"
)

// Seeded generation of Graph-only alerts: the products whose alerts only
// Graph serves here (Defender for Identity, for Office 365, for Cloud, Entra
// ID Protection, app governance, Purview DLP, Defender XDR custom
// detections, Microsoft Sentinel), shaped like the documented example, with
// every documented enum member, evolvable members that a client sees only
// with "Prefer: include-unknown-enum-members" (serviceSource
// microsoftDefenderForCloud and microsoftSentinel, detection sources such
// as nrtAlerts, evidence remediation statuses such as pendingApproval),
// evidence of every modelled type, and text a client must not mangle.

// Generate describes the alerts Tenant.Generate creates.
type Generate struct {
	// From and To bound the alerts' lastUpdateDateTime, spread at random
	// over [From, To] at 100 ns. Both zero means the simulator's now; if
	// only one is set, it is used for both.
	From, To time.Time
	// VisibleAfter is the late-indexing delay: each alert becomes visible
	// to queries at its lastUpdateDateTime + VisibleAfter.
	VisibleAfter time.Duration
	// SameTimestamp gives every alert the lastUpdateDateTime From (their
	// ids still differ).
	SameTimestamp bool
	// ServiceSource makes every alert of this serviceSource (one of the
	// Graph-only ones: microsoftDefenderForIdentity,
	// microsoftDefenderForOffice365, microsoftDefenderForCloud,
	// azureAdIdentityProtection, microsoftAppGovernance,
	// dataLossPrevention, microsoft365Defender, microsoftSentinel); ""
	// draws among them.
	ServiceSource string
}

// graphKind is a product whose alerts are Graph-only.
type graphKind struct {
	source     string
	detections []string
	product    string
	weight     int
	titles     []string
	categories []string
	evidence   []string // evidence types, drawn with repetition; the first is always there
	// id returns the alert's Graph id and providerAlertId. Only Defender
	// for Office 365's form is documented ("fa" and a GUID, Defender XDR
	// api-list-incidents.md); the others are invented and marked so in
	// package sim's doc.
	id func(g *graphGen, created time.Time) (string, string)
}

func prefixedGUID(prefix string) func(*graphGen, time.Time) (string, string) {
	return func(g *graphGen, _ time.Time) (string, string) {
		guid := g.GUID()
		return prefix + guid, guid
	}
}

var graphKinds = []graphKind{
	{source: "microsoftDefenderForIdentity", detections: []string{"microsoftDefenderForIdentity"}, product: "Microsoft Defender for Identity", weight: 25,
		titles: []string{"Suspected DCSync attack (replication of directory services)", "Suspected Brute Force attack (LDAP)",
			"Honeytoken user attributes modified", "Suspected Golden Ticket usage (encryption downgrade)",
			"Account enumeration reconnaissance (LDAP)", "Verdächtige Kerberos-SPN-Generierung auf {host}"},
		categories: []string{"CredentialAccess", "Discovery", "LateralMovement", "Persistence"},
		evidence:   []string{"userEvidence", "deviceEvidence", "ipEvidence", "securityGroupEvidence"},
		id:         prefixedGUID("aa")},
	{source: "microsoftDefenderForOffice365", detections: []string{"microsoftDefenderForOffice365", "automatedInvestigation"}, product: "Microsoft Defender for Office 365", weight: 25,
		titles: []string{"Email messages containing malicious URL removed after delivery", "A potentially malicious URL click was detected",
			"Email reported by user as malware or phish", "Suspicious email sending patterns detected", "Phish delivered due to an ETR override"},
		categories: []string{"InitialAccess", "Exfiltration", "ThreatManagement"},
		evidence:   []string{"analyzedMessageEvidence", "mailboxEvidence", "mailClusterEvidence", "urlEvidence", "userEvidence", "ipEvidence"},
		id:         prefixedGUID("fa")},
	{source: "microsoftDefenderForCloud", detections: []string{"microsoftDefenderForServers", "microsoftDefenderForStorage",
		"microsoftDefenderForKeyVault", "microsoftDefenderForResourceManager", "microsoftDefenderForContainers", "microsoftDefenderForAIServices"},
		product: "Microsoft Defender for Cloud", weight: 12,
		titles: []string{"Access from a suspicious IP address to a storage account", "Unusual access to Key Vault from a suspicious IP",
			"Suspicious process executed on {host}", "Privileged container detected", "Jailbreak attempt on an Azure AI model deployment"},
		categories: []string{"InitialAccess", "Execution", "Exfiltration", "PrivilegeEscalation"},
		evidence:   []string{"azureResourceEvidence", "ipEvidence", "processEvidence", "fileEvidence", "aiAgentEvidence"},
		id: func(g *graphGen, created time.Time) (string, string) {
			// Defender for Cloud names alerts "<ticks to DateTime.MaxValue>_<GUID>".
			const maxTicks = 3155378975999999999
			name := strconv.FormatInt(maxTicks-endpoint.DotNetTicks(created), 10) + "_" + g.GUID()
			return "dc" + name, name
		}},
	{source: "azureAdIdentityProtection", detections: []string{"azureAdIdentityProtection"}, product: "Microsoft Entra ID Protection", weight: 10,
		titles:     []string{"Atypical travel", "Unfamiliar sign-in properties", "Anonymous IP address", "Leaked credentials", "Anomalous Token"},
		categories: []string{"InitialAccess", "CredentialAccess"},
		evidence:   []string{"userEvidence", "ipEvidence", "cloudLogonSessionEvidence"},
		id: func(g *graphGen, _ time.Time) (string, string) {
			h := g.Hex(64)
			return "ad" + h[:48], h
		}},
	{source: "microsoftAppGovernance", detections: []string{"appGovernanceDetection", "appGovernancePolicy"}, product: "App governance", weight: 5,
		titles:     []string{"App with suspicious OAuth scope made graph calls to read email", "Increase in app API calls to EWS"},
		categories: []string{"Collection", "Persistence"},
		evidence:   []string{"oauthApplicationEvidence", "userEvidence", "cloudApplicationEvidence"},
		id:         prefixedGUID("ag")},
	{source: "dataLossPrevention", detections: []string{"microsoftDataLossPrevention"}, product: "Microsoft Data Loss Prevention", weight: 8,
		titles:     []string{"DLP policy (Kreditkartennummern) matched for document '{file}'", "DLP policy match for email with subject 'Q3 <confidential> & final'"},
		categories: []string{"Exfiltration"},
		evidence:   []string{"fileEvidence", "userEvidence", "mailboxEvidence", "cloudApplicationEvidence"},
		id:         prefixedGUID("dl")},
	{source: "microsoft365Defender", detections: []string{"microsoft365Defender", "customDetection", "manual", "microsoftThreatExperts"}, product: "Microsoft Defender XDR", weight: 7,
		titles:     []string{"Multi-stage incident involving Initial access & Command and control", "Custom detection: 機密ファイルの大量コピー", "Ransomware canary file touched 🐤🔥"},
		categories: []string{"Ransomware", "CommandAndControl", "Collection"},
		evidence:   []string{"deviceEvidence", "userEvidence", "processEvidence", "fileEvidence", "urlEvidence", "registryValueEvidence", "registryKeyEvidence"},
		id:         prefixedGUID("ra")},
	{source: "microsoftSentinel", detections: []string{"scheduledAlerts", "nrtAlerts", "microsoftSentinel"}, product: "Microsoft Sentinel", weight: 8,
		titles:     []string{"Rare RDP connections", "Mass secret retrieval from Azure Key Vault", "نشاط تسجيل دخول غير عادي"},
		categories: []string{"LateralMovement", "CredentialAccess", "Discovery"},
		evidence:   []string{"userEvidence", "ipEvidence", "deviceEvidence", "azureResourceEvidence"},
		id:         prefixedGUID("sn")},
}

// Generate creates n new Graph-only alerts with the tenant's seeded
// generator and returns their Graph ids, in creation order. It panics if To
// is before From or ServiceSource is not a Graph-only source.
func (t *Tenant) Generate(n int, g Generate) []string {
	if n <= 0 {
		return nil
	}
	kinds := graphKinds
	if g.ServiceSource != "" {
		i := slices.IndexFunc(graphKinds, func(k graphKind) bool { return k.source == g.ServiceSource })
		if i < 0 {
			panic(fmt.Sprintf("simulator: Tenant.Generate: %q is not a Graph-only service source", g.ServiceSource))
		}
		kinds = graphKinds[i : i+1]
	}
	from, to := simapi.GenerateRange(g.From, g.To, t.srv.Now, endpoint.Tick, "Tenant.Generate")
	weights := make([]int, len(kinds))
	for i, k := range kinds {
		weights[i] = k.weight
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	gen := t.generator()
	ids := make([]string, 0, n)
	for range n {
		updated := from
		if !g.SameTimestamp && to.After(from) {
			updated = from.Add(time.Duration(gen.RNG.Int64N(int64(to.Sub(from))/int64(endpoint.Tick)+1)) * endpoint.Tick)
		}
		a := gen.alert(&kinds[gen.WeightedIndex(weights...)], updated)
		for t.store.Alerts[a.ID] != nil {
			a.ID += "0"
		}
		r, err := t.srv.newGraphRevision(&a, updated.Add(g.VisibleAfter))
		if err != nil {
			panic(err) // generated alerts always render
		}
		t.store.Add(a.ID, r)
		ids = append(ids, a.ID)
	}
	return ids
}

// UpdateRandom moves n distinct Graph-only alerts, chosen by the seeded
// generator, one step along an analyst's lifecycle (see Update for the new
// version's lastUpdateDateTime and visibility, lateBy being its
// visibleAfter): unknown → new; new → inProgress (assigned); inProgress →
// resolved (resolvedDateTime, classification with a matching
// determination); a resolved alert gets a comment, or is reopened now and
// then. It returns the ids, fewer when the tenant has fewer than n
// Graph-only alerts.
func (t *Tenant) UpdateRandom(n int, lateBy time.Duration) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	gen := t.generator()
	ids := t.store.PickRandom(gen.RNG, n)
	for _, id := range ids {
		if err := t.update(id, gen.lifecycleStep, lateBy); err != nil {
			panic(err) // the id is known and its versions decode
		}
	}
	return ids
}

// generator returns the tenant's generator. t.mu must be held.
func (t *Tenant) generator() *graphGen {
	return &graphGen{Draws: simapi.Draws{RNG: t.rng}, tenant: t.id, now: t.srv.Now}
}

// graphGen draws Graph-only alerts. Its rng is the tenant's, used under the
// tenant's lock.
type graphGen struct {
	simapi.Draws
	tenant string
	now    func() time.Time
}

// graphClassDeterminations are the determinations that go with each
// classification (the Defender XDR grouping of alert determinations).
var graphClassDeterminations = map[string][]string{
	"truePositive": {"multiStagedAttack", "maliciousUserActivity", "compromisedAccount", "malware", "phishing",
		"unwantedSoftware", "apt", "securityPersonnel", "other"},
	"informationalExpectedActivity": {"securityTesting", "lineOfBusinessApplication", "confirmedActivity", "other"},
	"falsePositive":                 {"notMalicious", "notEnoughDataToValidate", "other"},
}

var graphAnalysts = []string{"secop123@contoso.com", "soc-analyst@contoso.com", "Automation", "j.mueller@contoso.de", "KaiC@contoso.onmicrosoft.com"}

var graphCommentTexts = []string{"Demo incident", "Contained: session revoked, password reset.",
	"Benutzer bestätigt: Anmeldung aus dem Urlaub.", "誤検知の可能性あり。確認中です。", `Marked "benign" <per IR-4711> & closed.`}

var graphHosts = []string{"dc1.contoso.local", "srv-fin-02.corp.contoso.com", "ws-anna.emea.fabrikam.com", "aks-node-7.contoso.internal", "kiosk-3"}

// precise truncates t to 100 ns or, now and then, to a coarser precision
// (the documented example has both "...50.116Z" and "...01.3266667Z").
func (g *graphGen) precise(t time.Time) time.Time {
	switch g.RNG.IntN(6) {
	case 0:
		return t.Truncate(time.Second)
	case 1:
		return t.Truncate(time.Millisecond)
	}
	return t.Truncate(endpoint.Tick)
}

func (g *graphGen) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(g.RNG.Int64N(int64(hi-lo)))
}

// classify sets a classification and a determination that goes with it.
func (g *graphGen) classify(a *Alert) {
	a.Classification, a.Determination = g.classification()
}

// classification draws a classification and a determination that goes
// with it (alerts and incidents share the enums).
func (g *graphGen) classification() (string, string) {
	c := g.Pick([]string{"truePositive", "informationalExpectedActivity", "falsePositive"})
	return c, g.Pick(graphClassDeterminations[c])
}

// alert draws one alert of kind k whose lastUpdateDateTime is updated.
func (g *graphGen) alert(k *graphKind, updated time.Time) Alert {
	status := graphStatuses[g.WeightedIndex(3, 45, 22, 30)]
	created := g.precise(updated.Add(-g.between(time.Second, 72*time.Hour)))
	if status == "new" {
		created = g.precise(updated.Add(-g.between(0, 10*time.Minute)))
	}
	if created.After(updated) {
		created = updated
	}
	lastActivity := g.precise(created.Add(-g.between(0, time.Hour)))
	firstActivity := g.precise(lastActivity.Add(-g.between(0, 6*time.Hour)))
	id, provider := k.id(g, created)
	incident := strconv.Itoa(10_000 + g.RNG.IntN(90_000))
	host := g.Pick(graphHosts)
	threat := endpoint.Threats()[g.RNG.IntN(len(endpoint.Threats()))]
	fill := strings.NewReplacer("{host}", host, "{file}", g.Pick(cloudapps.Files()), "{family}", threat.Family)
	a := Alert{
		ID: id, ProviderAlertID: provider, IncidentID: &incident,
		Status: status, Severity: graphSeverities[g.WeightedIndex(5, 15, 30, 30, 20)],
		Classification: "unknown", Determination: "unknown",
		ServiceSource: k.source, DetectionSource: g.Pick(k.detections),
		DetectorID: simapi.Ptr(g.GUID()), TenantID: g.tenant,
		Title: fill.Replace(g.Pick(k.titles)), Description: fill.Replace(g.Pick(endpoint.Descriptions())),
		RecommendedActions: simapi.Ptr(g.Pick(graphRecommendedActions)), Category: simapi.Ptr(g.Pick(k.categories)),
		AlertWebURL: portalURL("alerts", id, g.tenant), IncidentWebURL: portalURL("incidents", incident, g.tenant),
		MitreTechniques: []string{}, CreatedDateTime: &created, LastUpdateDateTime: &updated,
		FirstActivityDateTime: &firstActivity, LastActivityDateTime: &lastActivity,
		Comments: []Comment{}, SystemTags: []string{}, ProductName: simapi.Ptr(k.product),
	}
	if g.Chance(0.3) {
		a.ActorDisplayName = simapi.Ptr(g.Pick([]string{"Storm-0501", "Mint Sandstorm", "Octo Tempest", "Сhamomile Actor"}))
	}
	if g.Chance(0.25) {
		a.ThreatDisplayName, a.ThreatFamilyName = simapi.Ptr(threat.Name), simapi.Ptr(threat.Family)
	}
	if status == "inProgress" || status == "resolved" || g.Chance(0.1) {
		a.AssignedTo = simapi.Ptr(g.Pick(graphAnalysts))
	}
	if status == "resolved" {
		resolved := updated.Add(-g.between(0, 2*time.Second)).Truncate(endpoint.Tick)
		if resolved.Before(created) {
			resolved = created
		}
		a.ResolvedDateTime = &resolved
		if g.Chance(0.85) {
			g.classify(&a)
		}
	} else if g.Chance(0.1) {
		g.classify(&a)
	}
	for range g.WeightedIndex(6, 3, 1) * 2 {
		if t := g.Pick(endpoint.Mitre()); !slices.Contains(a.MitreTechniques, t) {
			a.MitreTechniques = append(a.MitreTechniques, t)
		}
	}
	for range g.WeightedIndex(70, 20, 10) {
		at := created.Add(g.between(0, updated.Sub(created))).Truncate(endpoint.Tick)
		a.Comments = append(a.Comments, Comment{Comment: g.Pick(graphCommentTexts), CreatedByDisplayName: g.Pick(graphAnalysts), CreatedDateTime: at})
	}
	if g.Chance(0.1) {
		a.SystemTags = []string{"Defender Experts"}
	}
	if g.Chance(0.4) {
		a.AlertPolicyID = simapi.Ptr(g.GUID())
	}
	if g.Chance(0.7) {
		a.InvestigationState = simapi.Ptr(g.Pick(graphInvestigationStates[:len(graphInvestigationStates)-1]))
	}
	if k.source == "microsoftSentinel" || k.source == "microsoft365Defender" || g.Chance(0.1) {
		a.AdditionalData = jsonRaw(map[string]any{"RuleName": a.Title, "QueryPeriod": "PT5H", "Größe": 42, "tags": []string{"tier-0", "PCI"}})
		if g.Chance(0.5) {
			a.CustomDetails = jsonRaw(map[string]any{"Computer": host, "Account": "anna.schmidt@contoso.com"})
		}
	}
	nEv := 1 + g.WeightedIndex(20, 30, 25, 15, 10)
	for i := range nEv {
		typ := k.evidence[0]
		if i > 0 {
			typ = g.Pick(k.evidence)
		}
		a.Evidence = append(a.Evidence, g.evidence(typ, created, host, a.Classification))
	}
	return a
}

var graphPeople = []struct{ name, domain, upn, display string }{
	{"anna.schmidt", "CONTOSO", "anna.schmidt@contoso.com", "Anna Schmidt"},
	{"jürgen.müller", "CONTOSO", "juergen.mueller@contoso.de", "Jürgen Müller"},
	{"tanaka.hiroshi", "FABRIKAM", "tanaka.hiroshi@fabrikam.co.jp", "田中 宏"},
	{"m.alrashid", "FABRIKAM", "m.alrashid@fabrikam.com", "محمد الراشد"},
	{"svc_backup", "CONTOSO", "svc_backup@contoso.com", "svc_backup"},
	{"KaiC", "CONTOSO", "KaiC@contoso.onmicrosoft.com", "Kai Carter"},
}

func (g *graphGen) userAccount() userAccount {
	p := graphPeople[g.RNG.IntN(len(graphPeople))]
	sid := fmt.Sprintf("S-1-5-21-%d-%d-%d-%d", 1e8+g.RNG.IntN(4e9), 1e8+g.RNG.IntN(4e9), 1e8+g.RNG.IntN(4e9), 1000+g.RNG.IntN(90000))
	ua := newUserAccount(simapi.Ptr(p.name), simapi.Ptr(p.domain), simapi.Ptr(sid), simapi.Ptr(g.GUID()), simapi.Ptr(p.upn), simapi.Ptr(p.display))
	if g.Chance(0.3) {
		ua.ActiveDirectoryObjectGUID = simapi.Ptr(g.GUID())
	}
	return ua
}

func (g *graphGen) publicIP() string {
	if g.Chance(0.2) {
		return fmt.Sprintf("2001:db8:%x:%x::%x", g.RNG.IntN(0x10000), g.RNG.IntN(0x10000), 1+g.RNG.IntN(0xffff))
	}
	return fmt.Sprintf("%d.%d.%d.%d", 20+g.RNG.IntN(180), g.RNG.IntN(256), g.RNG.IntN(256), 1+g.RNG.IntN(254))
}

// evidence draws one evidence item of type typ.
func (g *graphGen) evidence(typ string, created time.Time, host, class string) Evidence {
	at := g.precise(created.Add(g.between(0, 2*time.Second)))
	e := Evidence{Type: graphEvidencePrefix + typ, CreatedDateTime: &at,
		Verdict:           graphVerdicts[g.RNG.IntN(len(graphVerdicts)-1)],
		RemediationStatus: "none", Roles: []string{}, DetailedRoles: []string{}, Tags: []string{}}
	switch x := g.RNG.IntN(10); {
	case x < 2:
		// Members before and after unknownFutureValue.
		e.RemediationStatus = g.Pick(graphRemediationStatuses[1:5])
	case x < 4:
		e.RemediationStatus = g.Pick(graphRemediationStatuses[6:])
		e.RemediationStatusDetails = simapi.Ptr("Action " + e.RemediationStatus + " by automated investigation #" + strconv.Itoa(1000+g.RNG.IntN(9000)))
	}
	if class == "falsePositive" {
		e.Verdict = "noThreatsFound"
	}
	if g.Chance(0.6) {
		e.Roles = []string{g.Pick(graphEvidenceRoles[:len(graphEvidenceRoles)-1])}
	}
	if g.Chance(0.3) {
		e.DetailedRoles = []string{g.Pick([]string{"Main device", "Referred in command line", "Compromised account", "Attacker IP"})}
	}
	if g.Chance(0.15) {
		e.Tags = []string{g.Pick([]string{"Test Machine", "High value asset", "Tier-0 ✨"})}
	}
	p := map[string]any{}
	switch typ {
	case "userEvidence":
		p["userAccount"] = g.userAccount()
	case "deviceEvidence":
		name, domain, _ := strings.Cut(host, ".")
		os := graphOSPlatforms[g.RNG.IntN(len(graphOSPlatforms))]
		ip := fmt.Sprintf("10.%d.%d.%d", g.RNG.IntN(256), g.RNG.IntN(256), 1+g.RNG.IntN(254))
		first := created.Add(-g.between(24*time.Hour, 400*24*time.Hour)).Truncate(endpoint.Tick)
		p["firstSeenDateTime"], p["mdeDeviceId"], p["deviceDnsName"], p["hostName"] = endpoint.WireTime(&first), g.Hex(40), host, name
		p["dnsDomain"], p["osPlatform"], p["version"] = domain, os.platform, os.version
		if os.build != 0 {
			p["osBuild"] = os.build
		}
		p["healthStatus"] = g.Pick([]string{"active", "inactive", "impairedCommunication", "noSensorData", "noSensorDataImpairedCommunication", "unknown"})
		p["riskScore"] = g.Pick([]string{"none", "informational", "low", "medium", "high"})
		p["onboardingStatus"] = g.Pick([]string{"insufficientInfo", "onboarded", "canBeOnboarded", "unsupported"})
		p["defenderAvStatus"] = g.Pick([]string{"notReporting", "disabled", "notUpdated", "updated", "unknown", "notSupported"})
		p["lastIpAddress"], p["ipInterfaces"] = ip, []string{ip, "fe80::" + g.Hex(4)}
		p["loggedOnUsers"] = []map[string]string{{"accountName": "anna.schmidt", "domainName": "CONTOSO"}}
		if g.Chance(0.3) {
			sub := g.GUID()
			p["vmMetadata"] = map[string]any{"vmId": g.GUID(), "cloudProvider": "azure", "subscriptionId": sub,
				"resourceId": "/subscriptions/" + sub + "/resourceGroups/rg-prod/providers/Microsoft.Compute/virtualMachines/" + name}
		}
	case "ipEvidence":
		p["ipAddress"] = g.publicIP()
		c := g.Pick([]string{"US", "DE", "JP", "CI", "BR"})
		p["countryLetterCode"] = c
		if g.Chance(0.6) {
			lat, lon := -60+g.RNG.Float64()*120, -170+g.RNG.Float64()*340
			p["location"] = map[string]any{"city": g.Pick([]string{"Seattle", "München", "東京", "Abidjan", "São Paulo"}),
				"countryName": c, "latitude": math.Round(lat*1e4) / 1e4, "longitude": math.Round(lon*1e4) / 1e4, "state": nil}
		}
	case "urlEvidence":
		p["url"] = g.Pick(endpoint.URLs())
	case "fileEvidence":
		p["detectionStatus"] = g.Pick(graphDetectionStatuses[:3])
		p["mdeDeviceId"] = g.Hex(40)
		p["fileDetails"] = fileDetails{Sha1: simapi.Ptr(g.Hex(40)), Sha256: simapi.Ptr(g.Hex(64)), Md5: simapi.Ptr(g.Hex(32)),
			FileName: simapi.Ptr(g.Pick(endpoint.FileNames())), FilePath: simapi.Ptr(g.Pick(endpoint.Folders())),
			FileSize: simapi.Ptr(int64(g.RNG.IntN(50 << 20))), FilePublisher: simapi.Ptr(g.Pick(publishers))}
	case "processEvidence":
		pr := endpoint.Processes()[g.RNG.IntN(len(endpoint.Processes()))]
		pct := created.Add(-g.between(time.Second, time.Hour)).Truncate(endpoint.Tick)
		ppct := pct.Add(-g.between(time.Second, 6*time.Hour)).Truncate(endpoint.Tick)
		p["processId"], p["parentProcessId"], p["processCommandLine"] = 4*(1+g.RNG.IntN(16000)), 4*(1+g.RNG.IntN(16000)), pr.Cmd
		p["processCreationDateTime"], p["parentProcessCreationDateTime"] = endpoint.WireTime(&pct), endpoint.WireTime(&ppct)
		p["detectionStatus"], p["mdeDeviceId"] = g.Pick(graphDetectionStatuses[:3]), g.Hex(40)
		p["imageFile"] = fileDetails{Sha1: simapi.Ptr(g.Hex(40)), Sha256: simapi.Ptr(g.Hex(64)), FileName: simapi.Ptr(pr.Name), FilePath: simapi.Ptr(pr.Folder),
			FileSize: simapi.Ptr(int64(g.RNG.IntN(8 << 20))), FilePublisher: simapi.Ptr("Microsoft Corporation")}
		p["parentProcessImageFile"] = fileDetails{FileName: simapi.Ptr("services.exe"), FilePath: simapi.Ptr(`C:\Windows\System32`), FileSize: simapi.Ptr(int64(731744))}
		ua := g.userAccount()
		p["userAccount"] = ua
	case "registryKeyEvidence":
		r := endpoint.Registry()[g.RNG.IntN(len(endpoint.Registry()))]
		p["registryKey"], p["registryHive"] = r.Key, r.Hive
	case "registryValueEvidence":
		r := endpoint.Registry()[g.RNG.IntN(len(endpoint.Registry()))]
		p["mdeDeviceId"], p["registryHive"], p["registryKey"] = g.Hex(40), r.Hive, r.Key
		p["registryValue"], p["registryValueName"], p["registryValueType"] = r.Value, g.Pick([]string{"Updater", "Start", "(Default)"}), r.Type
	case "mailboxEvidence":
		ua := g.userAccount()
		p["displayName"], p["primaryAddress"], p["upn"], p["userAccount"] = ua.DisplayName, ua.UserPrincipalName, ua.UserPrincipalName, ua
	case "analyzedMessageEvidence":
		for k, v := range analyzedMessage(g.Draws, &at) {
			p[k] = v
		}
	case "mailClusterEvidence":
		for k, v := range mailCluster(g.Draws) {
			p[k] = v
		}
	case "cloudApplicationEvidence":
		sv := cloudapps.Services()[g.RNG.IntN(len(cloudapps.Services()))]
		p["appId"], p["displayName"], p["instanceId"], p["instanceName"], p["saasAppId"] = sv.ID, sv.Label, 0, sv.Label, sv.ID
		if g.Chance(0.3) {
			p["stream"] = map[string]any{"name": "Microsoft 365"}
		}
	case "oauthApplicationEvidence":
		p["appId"], p["displayName"], p["objectId"] = g.GUID(), g.Pick([]string{"MailSync Pro", "Contoso HR Portal", "Ünïcode App ✉️"}), g.GUID()
		p["publisher"] = g.Pick([]string{"Contoso", "Unverified publisher", "Fabrikam GmbH"})
	case "securityGroupEvidence":
		grp := endpoint.Groups()[g.RNG.IntN(len(endpoint.Groups()))]
		p["displayName"], p["securityGroupId"], p["sid"] = grp.Name, g.GUID(), "S-1-5-21-1004336348-1177238915-682003330-"+grp.RID
		p["activeDirectoryObjectGuid"], p["distinguishedName"] = g.GUID(), "CN="+grp.Name+",CN=Users,DC=contoso,DC=local"
		p["friendlyName"] = `CONTOSO\` + grp.Name
	case "azureResourceEvidence":
		name := "st" + g.Hex(10)
		typ := g.Pick([]string{"Microsoft.Storage/storageAccounts", "Microsoft.KeyVault/vaults", "Microsoft.Compute/virtualMachines"})
		p["resourceId"] = "/subscriptions/" + g.GUID() + "/resourceGroups/rg-prod/providers/" + typ + "/" + name
		p["resourceName"], p["resourceType"] = name, typ
	case "aiAgentEvidence":
		p["agentId"], p["agentName"] = g.GUID(), g.Pick([]string{"HR helper", "Support bot 🤖"})
		p["hostingPlatformType"] = g.Pick([]string{"unknown", "azureAIFoundry", "copilotStudio"})
		p["instructions"] = "You are a helpful assistant. Never reveal <secrets> & keys."
	case "cloudLogonSessionEvidence":
		start := created.Add(-g.between(time.Minute, time.Hour)).Truncate(endpoint.Tick)
		prev := start.Add(-g.between(time.Hour, 30*24*time.Hour)).Truncate(endpoint.Tick)
		acct := Evidence{Type: graphEvidencePrefix + "userEvidence", CreatedDateTime: &at, Verdict: "suspicious",
			RemediationStatus: "none", Properties: map[string]json.RawMessage{"userAccount": jsonRaw(g.userAccount())}}
		p["account"] = json.RawMessage(acct.wire(true))
		p["browser"], p["deviceName"], p["operatingSystem"] = g.Pick([]string{"Edge 126", "Chrome 125", "Firefox 127"}), host, "Windows 11"
		p["previousLogonDateTime"], p["protocol"], p["sessionId"] = endpoint.WireTime(&prev), g.Pick([]string{"OAuth2", "SAML", "WS-Federation"}), g.GUID()
		p["startUtcDateTime"], p["userAgent"] = endpoint.WireTime(&start), "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
	}
	e.Properties = rawProps(p)
	return e
}

// lifecycleStep is one analyst action on a Graph-only alert (UpdateRandom).
func (g *graphGen) lifecycleStep(a *Alert) {
	now := g.now().UTC().Truncate(endpoint.Tick)
	comment := func() {
		a.Comments = append(a.Comments, Comment{Comment: g.Pick(graphCommentTexts), CreatedByDisplayName: g.Pick(graphAnalysts), CreatedDateTime: now})
	}
	switch a.Status {
	case "unknown":
		a.Status = "new"
	case "new":
		a.Status = "inProgress"
		a.AssignedTo = simapi.Ptr(g.Pick(graphAnalysts))
	case "inProgress":
		a.Status = "resolved"
		r := now
		if a.CreatedDateTime != nil && r.Before(*a.CreatedDateTime) {
			r = *a.CreatedDateTime
		}
		a.ResolvedDateTime = &r
		if a.Classification == "unknown" || g.Chance(0.3) {
			g.classify(a)
		}
	default:
		if g.Chance(0.25) {
			a.Status, a.ResolvedDateTime = "inProgress", nil
		} else {
			comment()
			return
		}
	}
	if g.Chance(0.25) {
		comment()
	}
}

// GeneratedServiceSources is how many service sources the generator draws
// Graph-only alerts from.
func GeneratedServiceSources() int { return len(graphKinds) }
