package endpoint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/alertexport/alertexport/internal/sim/simapi"
)

// The Defender for Endpoint alert entity, as defender-docs defender-endpoint/api/alerts.md
// documents it (learn.microsoft.com/defender-endpoint/api/alerts). The Go types hold times as
// time.Time and nullable values as pointers; the wire form is produced by MarshalJSON, with the
// field order of the documented example, null for a nil pointer and MDE's time format.

// Alert is one alert of the MDE alerts API. The json tags name the
// wire fields; MarshalJSON and UnmarshalJSON convert to and from the wire
// form. Nil pointers are null on the wire, except DetectorID, whose key is
// absent when nil (get-alerts.md Example 1 has no detectorId key). Nil
// slices are served as [] (mitreTechniques, comments and evidence are
// arrays in every documented response).
type Alert struct {
	ID                 string     `json:"id"`
	IncidentID         *int64     `json:"incidentId"`
	InvestigationID    *int64     `json:"investigationId"`
	AssignedTo         *string    `json:"assignedTo"`
	Severity           string     `json:"severity"`
	Status             string     `json:"status"`
	Classification     *string    `json:"classification"`
	Determination      *string    `json:"determination"`
	InvestigationState *string    `json:"investigationState"`
	DetectionSource    string     `json:"detectionSource"`
	DetectorID         *string    `json:"detectorId,omitempty"`
	Category           string     `json:"category"`
	ThreatFamilyName   *string    `json:"threatFamilyName"`
	Title              string     `json:"title"`
	Description        string     `json:"description"`
	AlertCreationTime  *time.Time `json:"alertCreationTime"`
	FirstEventTime     *time.Time `json:"firstEventTime"`
	LastEventTime      *time.Time `json:"lastEventTime"`
	LastUpdateTime     *time.Time `json:"lastUpdateTime"`
	ResolvedTime       *time.Time `json:"resolvedTime"`
	MachineID          string     `json:"machineId"`
	ComputerDNSName    string     `json:"computerDnsName"`
	RBACGroupName      *string    `json:"rbacGroupName"`
	AADTenantID        string     `json:"aadTenantId"`
	ThreatName         *string    `json:"threatName"`
	MitreTechniques    []string   `json:"mitreTechniques"`
	RelatedUser        *User      `json:"relatedUser"`
	Comments           []Comment  `json:"comments"`
	Evidence           []Evidence `json:"evidence"`
}

// User is an alert's relatedUser. The doc's table calls it a
// String; every example shows this object.
type User struct {
	UserName   string `json:"userName"`
	DomainName string `json:"domainName"`
}

// Comment is one item of an alert's comments.
type Comment struct {
	Comment     string    `json:"comment"`
	CreatedBy   string    `json:"createdBy"`
	CreatedTime time.Time `json:"createdTime"`
}

// Evidence is one item of an alert's evidence. Every field is on the
// wire for every entity type, null when it does not apply, as in the
// documented example.
type Evidence struct {
	EntityType                string     `json:"entityType"`
	EvidenceCreationTime      *time.Time `json:"evidenceCreationTime"`
	Sha1                      *string    `json:"sha1"`
	Sha256                    *string    `json:"sha256"`
	FileName                  *string    `json:"fileName"`
	FilePath                  *string    `json:"filePath"`
	ProcessID                 *int64     `json:"processId"`
	ProcessCommandLine        *string    `json:"processCommandLine"`
	ProcessCreationTime       *time.Time `json:"processCreationTime"`
	ParentProcessID           *int64     `json:"parentProcessId"`
	ParentProcessCreationTime *time.Time `json:"parentProcessCreationTime"`
	ParentProcessFileName     *string    `json:"parentProcessFileName"`
	ParentProcessFilePath     *string    `json:"parentProcessFilePath"`
	IPAddress                 *string    `json:"ipAddress"`
	URL                       *string    `json:"url"`
	RegistryKey               *string    `json:"registryKey"`
	RegistryHive              *string    `json:"registryHive"`
	RegistryValueType         *string    `json:"registryValueType"`
	RegistryValue             *string    `json:"registryValue"`
	AccountName               *string    `json:"accountName"`
	DomainName                *string    `json:"domainName"`
	UserSid                   *string    `json:"userSid"`
	AADUserID                 *string    `json:"aadUserId"`
	UserPrincipalName         *string    `json:"userPrincipalName"`
	DetectionStatus           *string    `json:"detectionStatus"`
}

// Documented enum members (alerts.md). Filter literals are matched against
// these; the generator draws from them.
var (
	endpointSeverities = []string{"UnSpecified", "Informational", "Low", "Medium", "High"}
	endpointStatuses   = []string{"Unknown", "New", "InProgress", "Resolved"}
	// investigationStates lists every documented member.
	endpointInvestigationStates = []string{"Unknown", "Terminated", "SuccessfullyRemediated", "Benign", "Failed",
		"PartiallyRemediated", "Running", "PendingApproval", "PendingResource", "PartiallyInvestigated",
		"TerminatedByUser", "TerminatedBySystem", "Queued", "InnerFailure", "PreexistingAlert",
		"UnsupportedOs", "UnsupportedAlertType", "SuppressedAlert"}
	// endpointDeterminations maps each classification to the determinations
	// alerts.md lists for it. "InformationalExpectedActivity" is the wire
	// spelling of the doc's "Informational, expected activity" (alerts.md
	// shows no wire value; this is the Graph/XDR spelling).
	endpointDeterminations = map[string][]string{
		"TruePositive":                  {"MultiStagedAttack", "MaliciousUserActivity", "CompromisedUser", "Malware", "Phishing", "UnwantedSoftware", "Other"},
		"InformationalExpectedActivity": {"SecurityTesting", "LineOfBusinessApplication", "ConfirmedUserActivity", "Other"},
		"FalsePositive":                 {"Clean", "InsufficientData", "Other"},
	}
	endpointClassifications = []string{"TruePositive", "InformationalExpectedActivity", "FalsePositive"}
	endpointCategories      = []string{"Collection", "CommandAndControl", "CredentialAccess", "DefenseEvasion", "Discovery",
		"Execution", "Exfiltration", "Exploit", "InitialAccess", "LateralMovement", "Malware", "Persistence",
		"PrivilegeEscalation", "Ransomware", "SuspiciousActivity", "UnwantedSoftware", "Impact"}
	endpointDetectionSources = []string{"WindowsDefenderAtp", "WindowsDefenderAv", "WindowsDefenderSmartScreen",
		"CustomerTI", "AutomatedInvestigation", "CustomDetection", "MTP", "Manual"}
	endpointEntityTypes = []string{"User", "Process", "File", "Ip", "Url", "Registry", "MailBox", "MailMessage",
		"MailCluster", "SecurityGroup"}
	endpointDetectionStatuses = []string{"Detected", "Blocked", "Prevented"}
)

// TimeLayout is how MDE writes times: UTC, up to 7 fractional digits
// (.NET's 100 ns ticks) with trailing zeros trimmed, so precision varies from
// value to value ("2021-01-26T20:33:59.2Z", "2020-07-20T10:53:50.19Z",
// "2021-01-26T20:33:57.7220239Z" in alerts.md and get-alerts.md). Elastic's
// integration formats its cursor with the same layout.
const TimeLayout = "2006-01-02T15:04:05.9999999Z"

// Tick is the precision of MDE times (.NET DateTimeOffset ticks).
const Tick = 100 * time.Nanosecond

// Time is a time.Time with MDE's wire format. Its underlying type is
// time.Time's, so a *time.Time converts to a *Time without copying.
type Time time.Time

func (t Time) MarshalText() ([]byte, error) {
	return time.Time(t).UTC().AppendFormat(nil, TimeLayout), nil
}

func (t *Time) UnmarshalText(b []byte) error {
	p, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return err
	}
	*t = Time(p.UTC())
	return nil
}

func WireTime(t *time.Time) *Time {
	if t == nil {
		return nil
	}
	w := Time(t.UTC().Truncate(Tick))
	return &w
}

func GoTime(t *Time) *time.Time {
	if t == nil {
		return nil
	}
	g := time.Time(*t)
	return &g
}

// wireAlert is Alert as it is written, field for field.
type wireAlert struct {
	ID                 string         `json:"id"`
	IncidentID         *int64         `json:"incidentId"`
	InvestigationID    *int64         `json:"investigationId"`
	AssignedTo         *string        `json:"assignedTo"`
	Severity           string         `json:"severity"`
	Status             string         `json:"status"`
	Classification     *string        `json:"classification"`
	Determination      *string        `json:"determination"`
	InvestigationState *string        `json:"investigationState"`
	DetectionSource    string         `json:"detectionSource"`
	DetectorID         *string        `json:"detectorId,omitempty"`
	Category           string         `json:"category"`
	ThreatFamilyName   *string        `json:"threatFamilyName"`
	Title              string         `json:"title"`
	Description        string         `json:"description"`
	AlertCreationTime  *Time          `json:"alertCreationTime"`
	FirstEventTime     *Time          `json:"firstEventTime"`
	LastEventTime      *Time          `json:"lastEventTime"`
	LastUpdateTime     *Time          `json:"lastUpdateTime"`
	ResolvedTime       *Time          `json:"resolvedTime"`
	MachineID          string         `json:"machineId"`
	ComputerDNSName    string         `json:"computerDnsName"`
	RBACGroupName      *string        `json:"rbacGroupName"`
	AADTenantID        string         `json:"aadTenantId"`
	ThreatName         *string        `json:"threatName"`
	MitreTechniques    []string       `json:"mitreTechniques"`
	RelatedUser        *User          `json:"relatedUser"`
	Comments           []wireComment  `json:"comments"`
	Evidence           []wireEvidence `json:"evidence"`
}

type wireComment struct {
	Comment     string `json:"comment"`
	CreatedBy   string `json:"createdBy"`
	CreatedTime Time   `json:"createdTime"`
}

type wireEvidence struct {
	EntityType                string  `json:"entityType"`
	EvidenceCreationTime      *Time   `json:"evidenceCreationTime"`
	Sha1                      *string `json:"sha1"`
	Sha256                    *string `json:"sha256"`
	FileName                  *string `json:"fileName"`
	FilePath                  *string `json:"filePath"`
	ProcessID                 *int64  `json:"processId"`
	ProcessCommandLine        *string `json:"processCommandLine"`
	ProcessCreationTime       *Time   `json:"processCreationTime"`
	ParentProcessID           *int64  `json:"parentProcessId"`
	ParentProcessCreationTime *Time   `json:"parentProcessCreationTime"`
	ParentProcessFileName     *string `json:"parentProcessFileName"`
	ParentProcessFilePath     *string `json:"parentProcessFilePath"`
	IPAddress                 *string `json:"ipAddress"`
	URL                       *string `json:"url"`
	RegistryKey               *string `json:"registryKey"`
	RegistryHive              *string `json:"registryHive"`
	RegistryValueType         *string `json:"registryValueType"`
	RegistryValue             *string `json:"registryValue"`
	AccountName               *string `json:"accountName"`
	DomainName                *string `json:"domainName"`
	UserSid                   *string `json:"userSid"`
	AADUserID                 *string `json:"aadUserId"`
	UserPrincipalName         *string `json:"userPrincipalName"`
	DetectionStatus           *string `json:"detectionStatus"`
}

func (e *Evidence) wire() wireEvidence {
	return wireEvidence{
		EntityType: e.EntityType, EvidenceCreationTime: WireTime(e.EvidenceCreationTime),
		Sha1: e.Sha1, Sha256: e.Sha256, FileName: e.FileName, FilePath: e.FilePath,
		ProcessID: e.ProcessID, ProcessCommandLine: e.ProcessCommandLine, ProcessCreationTime: WireTime(e.ProcessCreationTime),
		ParentProcessID: e.ParentProcessID, ParentProcessCreationTime: WireTime(e.ParentProcessCreationTime),
		ParentProcessFileName: e.ParentProcessFileName, ParentProcessFilePath: e.ParentProcessFilePath,
		IPAddress: e.IPAddress, URL: e.URL,
		RegistryKey: e.RegistryKey, RegistryHive: e.RegistryHive, RegistryValueType: e.RegistryValueType, RegistryValue: e.RegistryValue,
		AccountName: e.AccountName, DomainName: e.DomainName, UserSid: e.UserSid, AADUserID: e.AADUserID,
		UserPrincipalName: e.UserPrincipalName, DetectionStatus: e.DetectionStatus,
	}
}

func (w *wireEvidence) evidence() Evidence {
	return Evidence{
		EntityType: w.EntityType, EvidenceCreationTime: GoTime(w.EvidenceCreationTime),
		Sha1: w.Sha1, Sha256: w.Sha256, FileName: w.FileName, FilePath: w.FilePath,
		ProcessID: w.ProcessID, ProcessCommandLine: w.ProcessCommandLine, ProcessCreationTime: GoTime(w.ProcessCreationTime),
		ParentProcessID: w.ParentProcessID, ParentProcessCreationTime: GoTime(w.ParentProcessCreationTime),
		ParentProcessFileName: w.ParentProcessFileName, ParentProcessFilePath: w.ParentProcessFilePath,
		IPAddress: w.IPAddress, URL: w.URL,
		RegistryKey: w.RegistryKey, RegistryHive: w.RegistryHive, RegistryValueType: w.RegistryValueType, RegistryValue: w.RegistryValue,
		AccountName: w.AccountName, DomainName: w.DomainName, UserSid: w.UserSid, AADUserID: w.AADUserID,
		UserPrincipalName: w.UserPrincipalName, DetectionStatus: w.DetectionStatus,
	}
}

// wire converts to the wire form. Evidence is left out (nil) unless
// withEvidence; slices are never nil, so they are written as [].
func (a *Alert) wire(withEvidence bool) wireAlert {
	w := wireAlert{
		ID: a.ID, IncidentID: a.IncidentID, InvestigationID: a.InvestigationID, AssignedTo: a.AssignedTo,
		Severity: a.Severity, Status: a.Status, Classification: a.Classification, Determination: a.Determination,
		InvestigationState: a.InvestigationState, DetectionSource: a.DetectionSource, DetectorID: a.DetectorID,
		Category: a.Category, ThreatFamilyName: a.ThreatFamilyName, Title: a.Title, Description: a.Description,
		AlertCreationTime: WireTime(a.AlertCreationTime), FirstEventTime: WireTime(a.FirstEventTime),
		LastEventTime: WireTime(a.LastEventTime), LastUpdateTime: WireTime(a.LastUpdateTime), ResolvedTime: WireTime(a.ResolvedTime),
		MachineID: a.MachineID, ComputerDNSName: a.ComputerDNSName, RBACGroupName: a.RBACGroupName,
		AADTenantID: a.AADTenantID, ThreatName: a.ThreatName, MitreTechniques: a.MitreTechniques, RelatedUser: a.RelatedUser,
		Comments: make([]wireComment, 0, len(a.Comments)), Evidence: []wireEvidence{},
	}
	if w.MitreTechniques == nil {
		w.MitreTechniques = []string{}
	}
	for _, c := range a.Comments {
		w.Comments = append(w.Comments, wireComment{Comment: c.Comment, CreatedBy: c.CreatedBy, CreatedTime: Time(c.CreatedTime.UTC().Truncate(Tick))})
	}
	if withEvidence {
		w.Evidence = make([]wireEvidence, 0, len(a.Evidence))
		for i := range a.Evidence {
			w.Evidence = append(w.Evidence, a.Evidence[i].wire())
		}
	}
	return w
}

func (w *wireAlert) alert() Alert {
	a := Alert{
		ID: w.ID, IncidentID: w.IncidentID, InvestigationID: w.InvestigationID, AssignedTo: w.AssignedTo,
		Severity: w.Severity, Status: w.Status, Classification: w.Classification, Determination: w.Determination,
		InvestigationState: w.InvestigationState, DetectionSource: w.DetectionSource, DetectorID: w.DetectorID,
		Category: w.Category, ThreatFamilyName: w.ThreatFamilyName, Title: w.Title, Description: w.Description,
		AlertCreationTime: GoTime(w.AlertCreationTime), FirstEventTime: GoTime(w.FirstEventTime),
		LastEventTime: GoTime(w.LastEventTime), LastUpdateTime: GoTime(w.LastUpdateTime), ResolvedTime: GoTime(w.ResolvedTime),
		MachineID: w.MachineID, ComputerDNSName: w.ComputerDNSName, RBACGroupName: w.RBACGroupName,
		AADTenantID: w.AADTenantID, ThreatName: w.ThreatName, MitreTechniques: w.MitreTechniques, RelatedUser: w.RelatedUser,
		Comments: make([]Comment, 0, len(w.Comments)), Evidence: make([]Evidence, 0, len(w.Evidence)),
	}
	for _, c := range w.Comments {
		a.Comments = append(a.Comments, Comment{Comment: c.Comment, CreatedBy: c.CreatedBy, CreatedTime: time.Time(c.CreatedTime)})
	}
	for i := range w.Evidence {
		a.Evidence = append(a.Evidence, w.Evidence[i].evidence())
	}
	return a
}

// MarshalJSON writes the alert as the API does, evidence included: the
// documented field order, null for nil pointers, times in MDE's format,
// and non-ASCII characters escaped (see simapi.AppendEscapedNonASCII).
func (a Alert) MarshalJSON() ([]byte, error) {
	w := a.wire(true)
	return simapi.EncodeWire(&w)
}

// UnmarshalJSON reads an alert in the API's form (any RFC 3339 time).
func (a *Alert) UnmarshalJSON(b []byte) error {
	var w wireAlert
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*a = w.alert()
	return nil
}

// renderedAlert is an alert's wire form split so that one copy serves both
// answers: head+"[]}" without $expand=evidence, head+evidence+"}" with it.
type renderedAlert struct {
	head     []byte // `{"id":...,"comments":[...],"evidence":`
	evidence []byte // `[...]`
}

var emptyEvidenceTail = []byte("[]}")

func renderAlert(a *Alert) (renderedAlert, error) {
	w := a.wire(false)
	head, err := simapi.EncodeWire(&w)
	if err != nil {
		return renderedAlert{}, fmt.Errorf("simulator: alert %s: %w", a.ID, err)
	}
	if !bytes.HasSuffix(head, emptyEvidenceTail) {
		return renderedAlert{}, fmt.Errorf("simulator: alert %s: wire form does not end with the evidence", a.ID)
	}
	evs := make([]wireEvidence, 0, len(a.Evidence))
	for i := range a.Evidence {
		evs = append(evs, a.Evidence[i].wire())
	}
	ev, err := simapi.EncodeWire(evs)
	if err != nil {
		return renderedAlert{}, fmt.Errorf("simulator: alert %s evidence: %w", a.ID, err)
	}
	return renderedAlert{head: head[:len(head)-len(emptyEvidenceTail)], evidence: ev}, nil
}

// size is the number of bytes the alert takes in an answer.
func (r *renderedAlert) size(withEvidence bool) int {
	if withEvidence {
		return len(r.head) + len(r.evidence) + 1
	}
	return len(r.head) + len(emptyEvidenceTail)
}

// decode turns a rendered alert back into an Alert (evidence
// included), for Latest and Update.
func (r *renderedAlert) decode() (Alert, error) {
	doc := make([]byte, 0, len(r.head)+len(r.evidence)+1)
	doc = append(append(append(doc, r.head...), r.evidence...), '}')
	var a Alert
	err := a.UnmarshalJSON(doc)
	return a, err
}

// DotNetTicks is the .NET DateTime tick count (100 ns since 0001-01-01) of t,
// as MDE alert ids carry it.
func DotNetTicks(t time.Time) int64 {
	const unixEpochTicks = 621355968000000000
	return unixEpochTicks + t.Unix()*10_000_000 + int64(t.Nanosecond())/100
}

// endpointAlertID builds an id in MDE's form: "da", 18 digits of .NET ticks,
// "_", a signed 32-bit number ("da637472900382838869_1364969609",
// "da637551227677560813_-961444813").
func endpointAlertID(ticks int64, n int32) string {
	return "da" + strconv.FormatInt(ticks, 10) + "_" + strconv.FormatInt(int64(n), 10)
}

// DocumentedValues are the values alerts.md documents for the alert's
// enumerations, by JSON property (entityType and detectionStatus are an
// evidence's): oracles for tests of generated alerts. Fresh copies.
func DocumentedValues() map[string][]string {
	return map[string][]string{
		"severity":           slices.Clone(endpointSeverities),
		"status":             slices.Clone(endpointStatuses),
		"investigationState": slices.Clone(endpointInvestigationStates),
		"classification":     slices.Clone(endpointClassifications),
		"category":           slices.Clone(endpointCategories),
		"detectionSource":    slices.Clone(endpointDetectionSources),
		"entityType":         slices.Clone(endpointEntityTypes),
		"detectionStatus":    slices.Clone(endpointDetectionStatuses),
	}
}

// Determinations maps each classification to the determinations alerts.md
// lists for it. A fresh copy.
func Determinations() map[string][]string {
	out := make(map[string][]string, len(endpointDeterminations))
	for c, ds := range endpointDeterminations {
		out[c] = slices.Clone(ds)
	}
	return out
}
