package cloudapps

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alertexport/alertexport/internal/sim/simapi"
)

// Seeded generation of Defender for Cloud Apps alerts shaped like the documented list example
// (api-alerts-list.md) and the public fetch example (demisto/content's MicrosoftCloudAppSecurity
// test data): built-in detections (anomaly detection, Defender for Identity detections on Active
// Directory) and alerts of tenant-written policies, with every documented enum value (severity,
// status, resolution status, stories, intent), entities of every type seen, keys that are sometimes
// absent, the "null" strings and __siteIcon__ markup of real answers, and text a client must not
// mangle.

// Generate describes the alerts Tenant.Generate creates.
type Generate struct {
	// From and To bound the alerts' timestamps, spread at random over
	// [From, To] at millisecond precision. Both zero means the simulator's
	// now; if only one is set, it is used for both.
	From, To time.Time
	// VisibleAfter is the late-indexing delay: each alert becomes visible
	// to queries at its version (timestamp, or resolveTime for an alert
	// generated closed) + VisibleAfter.
	VisibleAfter time.Duration
	// SameTimestamp gives every alert the timestamp From (their ids still
	// differ).
	SameTimestamp bool
}

// Generate creates n new alerts with the tenant's seeded generator and
// returns their ids, in creation order. About a quarter are generated
// already closed (dismissed, resolved or classified): their resolveTime is
// drawn in (timestamp, To], and they are stored as that one version. When
// an alert's timestamp is To, it is open. It panics if To is before From.
func (t *Tenant) Generate(n int, g Generate) []string {
	if n <= 0 {
		return nil
	}
	from, to := simapi.GenerateRange(g.From, g.To, t.srv.Now, time.Millisecond, "Tenant.Generate")
	portal := t.srv.cloudAppsPortal(t.key)

	t.mu.Lock()
	defer t.mu.Unlock()
	gen := t.generator()
	ids := make([]string, 0, n)
	for range n {
		ts := from
		if !g.SameTimestamp {
			ts = from.Add(time.Duration(gen.RNG.Int64N(int64(to.Sub(from)/time.Millisecond)+1)) * time.Millisecond)
		}
		id := gen.objectID(ts)
		for t.store.Alerts[id] != nil {
			id = gen.objectID(ts)
		}
		a := gen.alert(id, ts, to, t.idValue, portal)
		t.idValue++
		rev, err := newCloudAppsRevision(&a, a.VersionTime().Add(g.VisibleAfter))
		if err != nil {
			panic(err) // generated entities are well formed
		}
		t.store.Add(id, rev)
		ids = append(ids, id)
	}
	return ids
}

// cloudAppsPortal is the tenant's portal host name label: the name of its
// first *.onmicrosoft.com domain (AddTenantDomain), else its ID. The
// documented URLs are region-less (https://contoso.portal.cloudappsecurity.com).
func (s *API) cloudAppsPortal(key string) string {
	best := ""
	for _, d := range s.entra.Domains(key) {
		label, ok := strings.CutSuffix(d, ".onmicrosoft.com")
		if ok && !strings.Contains(label, ".") && (best == "" || label < best) {
			best = label
		}
	}
	if best == "" {
		return key
	}
	return best
}

// generator returns the tenant's generator. t.mu must be held.
func (t *Tenant) generator() *cloudAppsGen {
	return &cloudAppsGen{Draws: simapi.Draws{RNG: t.rng}, tenant: t.id}
}

// cloudAppsGen draws alerts. Its rng is the tenant's, used under the tenant's
// lock.
type cloudAppsGen struct {
	simapi.Draws
	tenant string
}

// objectID is a MongoDB ObjectId, as _id is in every example: 4 bytes of
// Unix seconds, then 8 random bytes, in 24 lower-case hex digits.
func (g *cloudAppsGen) objectID(ts time.Time) string {
	return fmt.Sprintf("%08x", uint32(ts.Unix())) + g.Hex(16)
}

// nameObjectID is a stable ObjectId-like id for a name (policies, groups).
func nameObjectID(name string) string {
	h := fnv.New128a()
	h.Write([]byte(name))
	return hex.EncodeToString(h.Sum(nil))[:24]
}

// cloudAppsKind is a kind of alert: a built-in detection (title set) or an alert
// of a tenant-written policy (title = the policy's name).
type cloudAppsKind struct {
	title       string
	description string // {user} {upn} {app} {file} {ip} {country} {policy} {n} are filled in
	policyType  string
	stories     []int
	intent      []int
	identity    bool // a Defender for Identity detection: Active Directory, devices with roles
	file        bool
	markdown    bool
	system      bool // built-in: isSystemAlert may be true
}

// cloudAppsKinds cover every story (0–5, 7, 8) and intent (0–13) value.
var cloudAppsKinds = []cloudAppsKind{
	{title: "Impossible travel activity", description: "The user {user} ({upn}) performed activities from {country} and from a distant location within a time span shorter than the travel time between them.", policyType: "ANOMALY_DETECTION", stories: []int{0}, intent: []int{2}, system: true},
	{title: "Activity from infrequent country", description: "The user **{user}** performed an activity from **{country}**, a country not recently or never visited by any user in the organization.", policyType: "ANOMALY_DETECTION", stories: []int{0}, intent: []int{2}, markdown: true, system: true},
	{title: "Activity from anonymous IP addresses", description: "The user {user} performed {n} activities from {ip}, an IP address identified as an anonymous proxy.", policyType: "ANOMALY_DETECTION", stories: []int{0}, intent: []int{2, 5}, system: true},
	{title: "Activity from suspicious IP addresses", description: "The user {user} performed an activity from {ip}, which Microsoft Threat Intelligence associates with command-and-control servers.", policyType: "ANOMALY_DETECTION", stories: []int{0}, intent: []int{12}, system: true},
	{title: "Mass download by a single user", description: "The user {user} downloaded {n} files from {app} in a short time, including '{file}'.", policyType: "ANOMALY_DETECTION", stories: []int{0}, intent: []int{10, 11}, file: true, system: true},
	{title: "Ransomware activity", description: "The user {user} uploaded {n} files with the extension .locked to {app} and deleted the originals, a pattern of ransomware.", policyType: "ANOMALY_DETECTION", stories: []int{0}, intent: []int{13}, system: true},
	{title: "Suspicious inbox forwarding", description: "The user {user} ({upn}) created an inbox rule that forwards every e-mail to an external address.", policyType: "ANOMALY_DETECTION", stories: []int{0}, intent: []int{3, 11}, system: true},
	{title: "Multiple failed login attempts", description: "The user {user} failed to sign in {n} times from {ip}.", policyType: "ANOMALY_DETECTION", stories: []int{0}, intent: []int{6}, system: true},
	{title: "Honeytoken activity", description: "Contoso user performed {n} suspicious activities MITRE Technique used Account Discovery (T1087) and subtechnique used Domain Account (T1087.002)", policyType: "ANOMALY_DETECTION", stories: []int{0}, intent: []int{7, 8}, identity: true, system: true},
	{title: "Suspected brute-force attack (LDAP)", description: "{n} password guesses for {user} were made against a domain controller using LDAP simple bind.", policyType: "ANOMALY_DETECTION", stories: []int{0}, intent: []int{6}, identity: true, system: true},
	{title: "Remote code execution attempt", description: "{user} ran a remote command on a domain controller: cmd.exe /c \"whoami /all & net group \"Domain Admins\" /domain\".", policyType: "ANOMALY_DETECTION", stories: []int{0}, intent: []int{9, 8}, identity: true, system: true},
	{title: "Account enumeration reconnaissance", description: "Reconnaissance by {user}: {n} account names were looked up <including disabled & deleted ones>.", policyType: "ANOMALY_DETECTION", stories: []int{0}, intent: []int{1, 7}, identity: true, system: true},
	{title: "Unusual addition of credentials to an OAuth app", description: "The user {user} added credentials to the OAuth app '{app}', which may give an attacker persistent, privileged access.", policyType: "ANOMALY_DETECTION", stories: []int{0, 1}, intent: []int{4, 3}, system: true},
	{title: "Unusual administrative activity (by user)", description: "The administrator {user} performed {n} administrative activities in {app} in a single session.", policyType: "ANOMALY_DETECTION", stories: []int{1}, intent: []int{4}, system: true},
	{title: "Unusual deletion of audit logs", description: "The user {user} disabled auditing in {app}.", policyType: "ANOMALY_DETECTION", stories: []int{0, 8}, intent: []int{5}, system: true},
	{description: "File policy '{policy}' __siteIcon__ was matched by '{file}'", policyType: "FILE", stories: []int{3}, file: true},
	{description: "File policy '{policy}' __siteIcon__ found a compliance violation in '{file}', owned by {user}.", policyType: "FILE", stories: []int{2}, file: true},
	{description: "The file '{file}' __siteIcon__ was shared with an external user, matching the policy '{policy}'.", policyType: "FILE", stories: []int{5}, file: true},
	{description: "New app discovered: __appIcon__ {app} was used by {n} users.", policyType: "NEW_SERVICE", stories: []int{4}, intent: []int{0}},
	{description: "Session policy '{policy}' blocked the download of '{file}' by {user} from an unmanaged device.", policyType: "SESSION", stories: []int{7}, file: true},
	{description: "Activity policy '{policy}' was matched: **{user}** changed the settings of {app}.", policyType: "AUDIT", stories: []int{8}, markdown: true},
}

// cloudAppsPolicyNames are tenant-written policy names, in the languages and
// characters analysts use; the first is from public test data.
var cloudAppsPolicyNames = []string{
	"block png files",
	"Externe Freigabe – Personalakten",
	"機密ファイルの外部共有",
	"مشاركة ملفات حساسة",
	"🚨 Finance exfil watch 🔥",
	"Cafe\u0301 & <VIP> accounts",
	`Rule "PCI – card numbers"`,
	"Downloads from unmanaged devices",
}

// cloudAppsServices are apps of the catalog: 20940, 15600 and 11161 with the
// labels of the documents; the other labels are illustrative.
// Service is a cloud app of the generator's vocabulary.
type Service struct {
	ID    int
	Label string
}

var cloudServices = []Service{
	{11161, "Office 365"}, {15600, "Microsoft OneDrive for Business"}, {20892, "Microsoft SharePoint Online"},
	{20893, "Microsoft Exchange Online"}, {12260, "Microsoft Azure"}, {28375, "Microsoft Teams"},
	{11114, "Salesforce"}, {10489, "Box"}, {11770, "Google Workspace"},
}

const cloudAppsActiveDirectory = 20940

var cloudAppsPeople = []struct{ name, upn string }{
	{"user1", "user1@contoso.com"},
	{"Anna Schmidt", "anna.schmidt@contoso.com"},
	{"Jürgen Müller", "juergen.mueller@contoso.de"},
	{"田中 宏", "tanaka.hiroshi@fabrikam.co.jp"},
	{"محمد الراشد", "m.alrashid@fabrikam.com"},
	{"Ola Nordmann", "ola.nordmann@tailspin.no"},
	{"Zoë O'Brien", "zoe.obrien@contoso.com"},
	{"svc_backup", "svc_backup@contoso.com"},
	{"administrator", "administrator@contoso.com"},
}

var files = []string{"image (2).png", "Gehaltsübersicht_2024.xlsx", "顧客リスト.csv", "تقرير_مالي.pdf",
	"Q3 results 📈.pptx", "R&D <draft>.docx", "Re\u0301sume\u0301.docx", "passwords.txt"}

var cloudAppsCountries = []string{"Brazil", "Côte d'Ivoire", "Türkiye", "Japan", "Nigeria", "Russia", "Viet Nam"}

var cloudAppsGroups = []string{"All Users", "Administrators", "External users", "Finanzbuchhaltung – Lesezugriff"}

// cloudAppsAnalysts handle alerts. "null" is a string, as public test data
// captured it (demisto/content's MicrosoftCloudAppSecurity test data).
var cloudAppsAnalysts = []string{"administrator@contoso.com", "soc-analyst@contoso.com", "j.mueller@contoso.de", "null"}

var cloudAppsComments = []string{"", "null", "Confirmed with the user: travelling.", "Known VPN egress – benign.",
	"Escalated to IR, ticket #4711 <P1> & owner notified.", "Faux positif confirmé ✅"}

func (g *cloudAppsGen) ip() string {
	if g.Chance(0.25) {
		return fmt.Sprintf("2001:db8:%x:%x::%x", g.RNG.IntN(0x10000), g.RNG.IntN(0x10000), 1+g.RNG.IntN(0xffff))
	}
	return fmt.Sprintf("%d.%d.%d.%d", 1+g.RNG.IntN(223), g.RNG.IntN(256), g.RNG.IntN(256), 1+g.RNG.IntN(254))
}

// resolution draws a closing resolution status, 1 to 5.
func (g *cloudAppsGen) resolution() int { return 1 + g.WeightedIndex(10, 15, 25, 20, 30) }

// alert draws one alert raised at ts; when it is closed, its resolveTime is
// in (ts, to].
func (g *cloudAppsGen) alert(id string, ts, to time.Time, idValue int64, portal string) Alert {
	kind := cloudAppsKinds[g.RNG.IntN(len(cloudAppsKinds))]
	person := cloudAppsPeople[g.RNG.IntN(len(cloudAppsPeople))]
	title, policyName := kind.title, kind.title
	if title == "" {
		policyName = g.Pick(cloudAppsPolicyNames)
		title = policyName
	}
	policy := Entity{ID: nameObjectID("policy " + policyName), Label: policyName, PolicyType: kind.policyType, Type: "policyRule"}

	var services []Entity
	if kind.identity {
		services = append(services, Entity{ID: strconv.Itoa(cloudAppsActiveDirectory), NumericID: true, Label: "Active Directory", Type: "service"})
	} else {
		for _, j := range g.RNG.Perm(len(cloudServices))[:1+g.WeightedIndex(7, 3)] {
			sv := cloudServices[j]
			services = append(services, Entity{ID: strconv.Itoa(sv.ID), NumericID: true, Label: sv.Label, Type: "service"})
		}
	}
	app := services[0]

	account := Entity{EntityType: simapi.Ptr(2), ID: simapi.NameGUID("cas account " + person.upn), Inst: simapi.Ptr(0), Label: person.name, Pa: person.upn, Type: "account"}
	if kind.identity {
		account.EntityRole = "Source"
	} else {
		account.Em = person.upn
		saas, _ := strconv.Atoi(app.ID)
		account.Saas = &saas
		if g.Chance(0.1) {
			account.Inst = simapi.Ptr(1 + g.RNG.IntN(3)) // a second instance of the app
		}
	}
	entities := []Entity{account}
	entities = append(entities, services...)
	if kind.identity {
		for i := range 1 + g.RNG.IntN(4) {
			role := "Related"
			if i == 0 {
				role = "Source"
			}
			host := g.Pick([]string{"DC1", "DC3", "DC4", "Client1", "WS-" + strings.ToUpper(g.Hex(6)), "srv-fileshare-01"})
			entities = append(entities, Entity{EntityRole: role, ID: g.GUID(), Label: host, Type: "device"})
		}
	} else if g.Chance(0.4) {
		entities = append(entities, Entity{ID: person.upn, Label: person.upn, Type: "user"})
	}
	ipAddr := g.ip()
	if strings.Contains(kind.description, "{ip}") || g.Chance(0.3) {
		entities = append(entities, Entity{ID: ipAddr, Label: ipAddr, Type: "ip"})
	}
	file := g.Pick(files)
	if kind.file {
		entities = append(entities, Entity{ID: g.GUID() + "|" + g.GUID(), Label: file, Type: "file"})
	}
	entities = append(entities, policy)
	if g.Chance(0.3) {
		grp := g.Pick(cloudAppsGroups)
		entities = append(entities, Entity{ID: nameObjectID("group " + grp), Label: grp, Type: "groupTag"})
	}
	// The documents list entities in no particular order.
	g.RNG.Shuffle(len(entities), func(i, j int) { entities[i], entities[j] = entities[j], entities[i] })

	n := 2 + g.RNG.IntN(60)
	desc := strings.NewReplacer("{user}", person.name, "{upn}", person.upn, "{app}", app.Label, "{file}", file,
		"{ip}", ipAddr, "{country}", g.Pick(cloudAppsCountries), "{policy}", policyName, "{n}", strconv.Itoa(n)).Replace(kind.description)

	a := Alert{
		ID: id, ContextID: g.tenant, Description: desc, Entities: entities, IDValue: idValue,
		IsSystemAlert: kind.system && g.Chance(0.6),
		SeverityValue: g.WeightedIndex(30, 35, 25, 10),
		Stories:       slices.Clone(kind.stories),
		Timestamp:     ts, Title: title,
		URL: "https://" + portal + ".portal.cloudappsecurity.com/#/alerts/" + id,
	}
	// Keys the documented example lacks are absent now and then.
	if !g.Chance(0.15) {
		a.Intent = append([]int{}, kind.intent...)
	}
	if !g.Chance(0.2) {
		a.IsMarkdown = simapi.Ptr(kind.markdown)
	}
	if !g.Chance(0.2) {
		a.IsPreview = simapi.Ptr(g.Chance(0.1))
	}
	if !g.Chance(0.2) {
		a.Evidence = g.evidence(person.name, app.Label, file, kind.file, g.RNG.IntN(4))
	}
	if !g.Chance(0.1) {
		a.ThreatScore = simapi.Ptr(g.RNG.IntN(101))
	}
	if g.Chance(0.2) {
		for range 1 + g.RNG.IntN(3) {
			a.Audits = append(a.Audits, g.GUID()+"_"+app.ID+"_"+g.GUID())
		}
	}
	if kind.title == "" && g.Chance(0.5) {
		p := policy
		a.Policy = &p
	}
	a.StatusValue = g.WeightedIndex(60, 40) // UNREAD or READ
	if to.After(ts) && g.Chance(0.25) {
		resolved := ts.Add(time.Millisecond * time.Duration(1+g.RNG.Int64N(int64(to.Sub(ts)/time.Millisecond))))
		g.close(&a, g.resolution(), resolved)
	} else if g.Chance(0.15) {
		// Looked at but open, as in the documented example.
		a.HandledByUser = simapi.Ptr(g.Pick(cloudAppsAnalysts))
		a.Comment = simapi.Ptr("")
	}
	return a
}

// evidence draws n evidence items. Their shape is undocumented ("short
// descriptions of main parts of the alert"); choice: objects with a title.
func (g *cloudAppsGen) evidence(user, app, file string, withFile bool, n int) []json.RawMessage {
	texts := []string{"User: " + user, "App: " + app, fmt.Sprintf("%d activities in %d minutes", 2+g.RNG.IntN(50), 1+g.RNG.IntN(30))}
	if withFile {
		texts = append(texts, "File: "+file)
	}
	out := make([]json.RawMessage, 0, n)
	for _, i := range g.RNG.Perm(len(texts))[:min(n, len(texts))] {
		b, err := simapi.EncodeWire(struct {
			Title string `json:"title"`
		}{texts[i]})
		if err != nil {
			panic(err) // a string always encodes
		}
		out = append(out, b)
	}
	return out
}

// close closes a as an analyst at resolved: resolution status, resolveTime,
// statusValue (READ, or ARCHIVED when dismissed), handledByUser and
// comment.
func (g *cloudAppsGen) close(a *Alert, resolution int, resolved time.Time) {
	resolved = resolved.UTC().Truncate(time.Millisecond)
	a.ResolutionStatusValue = resolution
	a.ResolveTime = &resolved
	a.StatusValue = 1
	if resolution == 1 {
		a.StatusValue = 2
	}
	a.HandledByUser = simapi.Ptr(g.Pick(cloudAppsAnalysts))
	a.Comment = simapi.Ptr(g.Pick(cloudAppsComments))
}

// Files are the generator's file names, for the Graph view to draw from the
// same list. Callers must not modify it.
func Files() []string { return files }

// Services are the generator's cloud apps, for the Graph view to draw from
// the same list. Callers must not modify it.
func Services() []Service { return cloudServices }
