package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// The Defender for Endpoint alert entity, as defender-docs defender-endpoint/api/alerts.md
// documents it (learn.microsoft.com/defender-endpoint/api/alerts). The Go types hold times as
// time.Time and nullable values as pointers; the wire form is produced by MarshalJSON, with the
// field order of the documented example, null for a nil pointer and MDE's time format.

// EndpointAlert is one alert of the MDE alerts API. The json tags name the
// wire fields; MarshalJSON and UnmarshalJSON convert to and from the wire
// form. Nil pointers are null on the wire, except DetectorID, whose key is
// absent when nil (get-alerts.md Example 1 has no detectorId key). Nil
// slices are served as [] (mitreTechniques, comments and evidence are
// arrays in every documented response).
type EndpointAlert struct {
	ID                 string             `json:"id"`
	IncidentID         *int64             `json:"incidentId"`
	InvestigationID    *int64             `json:"investigationId"`
	AssignedTo         *string            `json:"assignedTo"`
	Severity           string             `json:"severity"`
	Status             string             `json:"status"`
	Classification     *string            `json:"classification"`
	Determination      *string            `json:"determination"`
	InvestigationState *string            `json:"investigationState"`
	DetectionSource    string             `json:"detectionSource"`
	DetectorID         *string            `json:"detectorId,omitempty"`
	Category           string             `json:"category"`
	ThreatFamilyName   *string            `json:"threatFamilyName"`
	Title              string             `json:"title"`
	Description        string             `json:"description"`
	AlertCreationTime  *time.Time         `json:"alertCreationTime"`
	FirstEventTime     *time.Time         `json:"firstEventTime"`
	LastEventTime      *time.Time         `json:"lastEventTime"`
	LastUpdateTime     *time.Time         `json:"lastUpdateTime"`
	ResolvedTime       *time.Time         `json:"resolvedTime"`
	MachineID          string             `json:"machineId"`
	ComputerDNSName    string             `json:"computerDnsName"`
	RBACGroupName      *string            `json:"rbacGroupName"`
	AADTenantID        string             `json:"aadTenantId"`
	ThreatName         *string            `json:"threatName"`
	MitreTechniques    []string           `json:"mitreTechniques"`
	RelatedUser        *EndpointUser      `json:"relatedUser"`
	Comments           []EndpointComment  `json:"comments"`
	Evidence           []EndpointEvidence `json:"evidence"`
}

// EndpointUser is an alert's relatedUser. The doc's table calls it a
// String; every example shows this object.
type EndpointUser struct {
	UserName   string `json:"userName"`
	DomainName string `json:"domainName"`
}

// EndpointComment is one item of an alert's comments.
type EndpointComment struct {
	Comment     string    `json:"comment"`
	CreatedBy   string    `json:"createdBy"`
	CreatedTime time.Time `json:"createdTime"`
}

// EndpointEvidence is one item of an alert's evidence. Every field is on the
// wire for every entity type, null when it does not apply, as in the
// documented example.
type EndpointEvidence struct {
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

// endpointTimeLayout is how MDE writes times: UTC, up to 7 fractional digits
// (.NET's 100 ns ticks) with trailing zeros trimmed, so precision varies from
// value to value ("2021-01-26T20:33:59.2Z", "2020-07-20T10:53:50.19Z",
// "2021-01-26T20:33:57.7220239Z" in alerts.md and get-alerts.md). Elastic's
// integration formats its cursor with the same layout.
const endpointTimeLayout = "2006-01-02T15:04:05.9999999Z"

// endpointTick is the precision of MDE times (.NET DateTimeOffset ticks).
const endpointTick = 100 * time.Nanosecond

// endpointTime is a time.Time with MDE's wire format. Its underlying type is
// time.Time's, so a *time.Time converts to a *endpointTime without copying.
type endpointTime time.Time

func (t endpointTime) MarshalText() ([]byte, error) {
	return time.Time(t).UTC().AppendFormat(nil, endpointTimeLayout), nil
}

func (t *endpointTime) UnmarshalText(b []byte) error {
	p, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return err
	}
	*t = endpointTime(p.UTC())
	return nil
}

func wireTime(t *time.Time) *endpointTime {
	if t == nil {
		return nil
	}
	w := endpointTime(t.UTC().Truncate(endpointTick))
	return &w
}

func goTime(t *endpointTime) *time.Time {
	if t == nil {
		return nil
	}
	g := time.Time(*t)
	return &g
}

// wireAlert is EndpointAlert as it is written, field for field.
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
	AlertCreationTime  *endpointTime  `json:"alertCreationTime"`
	FirstEventTime     *endpointTime  `json:"firstEventTime"`
	LastEventTime      *endpointTime  `json:"lastEventTime"`
	LastUpdateTime     *endpointTime  `json:"lastUpdateTime"`
	ResolvedTime       *endpointTime  `json:"resolvedTime"`
	MachineID          string         `json:"machineId"`
	ComputerDNSName    string         `json:"computerDnsName"`
	RBACGroupName      *string        `json:"rbacGroupName"`
	AADTenantID        string         `json:"aadTenantId"`
	ThreatName         *string        `json:"threatName"`
	MitreTechniques    []string       `json:"mitreTechniques"`
	RelatedUser        *EndpointUser  `json:"relatedUser"`
	Comments           []wireComment  `json:"comments"`
	Evidence           []wireEvidence `json:"evidence"`
}

type wireComment struct {
	Comment     string       `json:"comment"`
	CreatedBy   string       `json:"createdBy"`
	CreatedTime endpointTime `json:"createdTime"`
}

type wireEvidence struct {
	EntityType                string        `json:"entityType"`
	EvidenceCreationTime      *endpointTime `json:"evidenceCreationTime"`
	Sha1                      *string       `json:"sha1"`
	Sha256                    *string       `json:"sha256"`
	FileName                  *string       `json:"fileName"`
	FilePath                  *string       `json:"filePath"`
	ProcessID                 *int64        `json:"processId"`
	ProcessCommandLine        *string       `json:"processCommandLine"`
	ProcessCreationTime       *endpointTime `json:"processCreationTime"`
	ParentProcessID           *int64        `json:"parentProcessId"`
	ParentProcessCreationTime *endpointTime `json:"parentProcessCreationTime"`
	ParentProcessFileName     *string       `json:"parentProcessFileName"`
	ParentProcessFilePath     *string       `json:"parentProcessFilePath"`
	IPAddress                 *string       `json:"ipAddress"`
	URL                       *string       `json:"url"`
	RegistryKey               *string       `json:"registryKey"`
	RegistryHive              *string       `json:"registryHive"`
	RegistryValueType         *string       `json:"registryValueType"`
	RegistryValue             *string       `json:"registryValue"`
	AccountName               *string       `json:"accountName"`
	DomainName                *string       `json:"domainName"`
	UserSid                   *string       `json:"userSid"`
	AADUserID                 *string       `json:"aadUserId"`
	UserPrincipalName         *string       `json:"userPrincipalName"`
	DetectionStatus           *string       `json:"detectionStatus"`
}

func (e *EndpointEvidence) wire() wireEvidence {
	return wireEvidence{
		EntityType: e.EntityType, EvidenceCreationTime: wireTime(e.EvidenceCreationTime),
		Sha1: e.Sha1, Sha256: e.Sha256, FileName: e.FileName, FilePath: e.FilePath,
		ProcessID: e.ProcessID, ProcessCommandLine: e.ProcessCommandLine, ProcessCreationTime: wireTime(e.ProcessCreationTime),
		ParentProcessID: e.ParentProcessID, ParentProcessCreationTime: wireTime(e.ParentProcessCreationTime),
		ParentProcessFileName: e.ParentProcessFileName, ParentProcessFilePath: e.ParentProcessFilePath,
		IPAddress: e.IPAddress, URL: e.URL,
		RegistryKey: e.RegistryKey, RegistryHive: e.RegistryHive, RegistryValueType: e.RegistryValueType, RegistryValue: e.RegistryValue,
		AccountName: e.AccountName, DomainName: e.DomainName, UserSid: e.UserSid, AADUserID: e.AADUserID,
		UserPrincipalName: e.UserPrincipalName, DetectionStatus: e.DetectionStatus,
	}
}

func (w *wireEvidence) evidence() EndpointEvidence {
	return EndpointEvidence{
		EntityType: w.EntityType, EvidenceCreationTime: goTime(w.EvidenceCreationTime),
		Sha1: w.Sha1, Sha256: w.Sha256, FileName: w.FileName, FilePath: w.FilePath,
		ProcessID: w.ProcessID, ProcessCommandLine: w.ProcessCommandLine, ProcessCreationTime: goTime(w.ProcessCreationTime),
		ParentProcessID: w.ParentProcessID, ParentProcessCreationTime: goTime(w.ParentProcessCreationTime),
		ParentProcessFileName: w.ParentProcessFileName, ParentProcessFilePath: w.ParentProcessFilePath,
		IPAddress: w.IPAddress, URL: w.URL,
		RegistryKey: w.RegistryKey, RegistryHive: w.RegistryHive, RegistryValueType: w.RegistryValueType, RegistryValue: w.RegistryValue,
		AccountName: w.AccountName, DomainName: w.DomainName, UserSid: w.UserSid, AADUserID: w.AADUserID,
		UserPrincipalName: w.UserPrincipalName, DetectionStatus: w.DetectionStatus,
	}
}

// wire converts to the wire form. Evidence is left out (nil) unless
// withEvidence; slices are never nil, so they are written as [].
func (a *EndpointAlert) wire(withEvidence bool) wireAlert {
	w := wireAlert{
		ID: a.ID, IncidentID: a.IncidentID, InvestigationID: a.InvestigationID, AssignedTo: a.AssignedTo,
		Severity: a.Severity, Status: a.Status, Classification: a.Classification, Determination: a.Determination,
		InvestigationState: a.InvestigationState, DetectionSource: a.DetectionSource, DetectorID: a.DetectorID,
		Category: a.Category, ThreatFamilyName: a.ThreatFamilyName, Title: a.Title, Description: a.Description,
		AlertCreationTime: wireTime(a.AlertCreationTime), FirstEventTime: wireTime(a.FirstEventTime),
		LastEventTime: wireTime(a.LastEventTime), LastUpdateTime: wireTime(a.LastUpdateTime), ResolvedTime: wireTime(a.ResolvedTime),
		MachineID: a.MachineID, ComputerDNSName: a.ComputerDNSName, RBACGroupName: a.RBACGroupName,
		AADTenantID: a.AADTenantID, ThreatName: a.ThreatName, MitreTechniques: a.MitreTechniques, RelatedUser: a.RelatedUser,
		Comments: make([]wireComment, 0, len(a.Comments)), Evidence: []wireEvidence{},
	}
	if w.MitreTechniques == nil {
		w.MitreTechniques = []string{}
	}
	for _, c := range a.Comments {
		w.Comments = append(w.Comments, wireComment{Comment: c.Comment, CreatedBy: c.CreatedBy, CreatedTime: endpointTime(c.CreatedTime.UTC().Truncate(endpointTick))})
	}
	if withEvidence {
		w.Evidence = make([]wireEvidence, 0, len(a.Evidence))
		for i := range a.Evidence {
			w.Evidence = append(w.Evidence, a.Evidence[i].wire())
		}
	}
	return w
}

func (w *wireAlert) alert() EndpointAlert {
	a := EndpointAlert{
		ID: w.ID, IncidentID: w.IncidentID, InvestigationID: w.InvestigationID, AssignedTo: w.AssignedTo,
		Severity: w.Severity, Status: w.Status, Classification: w.Classification, Determination: w.Determination,
		InvestigationState: w.InvestigationState, DetectionSource: w.DetectionSource, DetectorID: w.DetectorID,
		Category: w.Category, ThreatFamilyName: w.ThreatFamilyName, Title: w.Title, Description: w.Description,
		AlertCreationTime: goTime(w.AlertCreationTime), FirstEventTime: goTime(w.FirstEventTime),
		LastEventTime: goTime(w.LastEventTime), LastUpdateTime: goTime(w.LastUpdateTime), ResolvedTime: goTime(w.ResolvedTime),
		MachineID: w.MachineID, ComputerDNSName: w.ComputerDNSName, RBACGroupName: w.RBACGroupName,
		AADTenantID: w.AADTenantID, ThreatName: w.ThreatName, MitreTechniques: w.MitreTechniques, RelatedUser: w.RelatedUser,
		Comments: make([]EndpointComment, 0, len(w.Comments)), Evidence: make([]EndpointEvidence, 0, len(w.Evidence)),
	}
	for _, c := range w.Comments {
		a.Comments = append(a.Comments, EndpointComment{Comment: c.Comment, CreatedBy: c.CreatedBy, CreatedTime: time.Time(c.CreatedTime)})
	}
	for i := range w.Evidence {
		a.Evidence = append(a.Evidence, w.Evidence[i].evidence())
	}
	return a
}

// MarshalJSON writes the alert as the API does, evidence included: the
// documented field order, null for nil pointers, times in MDE's format,
// and non-ASCII characters escaped (see escapeNonASCII).
func (a EndpointAlert) MarshalJSON() ([]byte, error) {
	w := a.wire(true)
	return encodeWire(&w)
}

// UnmarshalJSON reads an alert in the API's form (any RFC 3339 time).
func (a *EndpointAlert) UnmarshalJSON(b []byte) error {
	var w wireAlert
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*a = w.alert()
	return nil
}

// encodeWire encodes v without Go's HTML escaping (MDE writes "C&C" as is;
// see the description in alerts.md) and with non-ASCII escaped. Buffers are
// pooled: generating 100,000 alerts renders some 350 MB of JSON.
func encodeWire(v any) ([]byte, error) {
	r := renderers.Get().(*renderer)
	defer renderers.Put(r)
	r.buf.Reset()
	if err := r.enc.Encode(v); err != nil {
		return nil, err
	}
	r.esc = appendEscapedNonASCII(r.esc[:0], bytes.TrimSuffix(r.buf.Bytes(), []byte("\n")))
	return bytes.Clone(r.esc), nil
}

type renderer struct {
	buf bytes.Buffer
	enc *json.Encoder
	esc []byte
}

var renderers = sync.Pool{New: func() any {
	r := &renderer{}
	r.enc = json.NewEncoder(&r.buf)
	r.enc.SetEscapeHTML(false)
	return r
}}

// appendEscapedNonASCII appends the JSON text b to dst with every non-ASCII
// character written as a \uXXXX escape (surrogate pairs beyond the BMP).
// Choice: Microsoft does not document the escaping of its responses; the
// OData library's JSON writer (Microsoft.OData.Core,
// ODataStringEscapeOption.EscapeNonAscii by default) escapes this way, and it
// is the more demanding form for a client that handles the bytes itself.
// Non-ASCII only occurs inside strings, so the rewrite is safe on a whole
// document.
func appendEscapedNonASCII(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		j := i
		for j < len(b) && b[j] < utf8.RuneSelf {
			j++
		}
		dst = append(dst, b[i:j]...)
		if j == len(b) {
			break
		}
		r, size := utf8.DecodeRune(b[j:])
		i = j + size
		if r > 0xFFFF {
			r1, r2 := utf16.EncodeRune(r)
			dst = appendU(appendU(dst, r1), r2)
			continue
		}
		dst = appendU(dst, r)
	}
	return dst
}

func appendU(b []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
}

// renderedAlert is an alert's wire form split so that one copy serves both
// answers: head+"[]}" without $expand=evidence, head+evidence+"}" with it.
type renderedAlert struct {
	head     []byte // `{"id":...,"comments":[...],"evidence":`
	evidence []byte // `[...]`
}

var emptyEvidenceTail = []byte("[]}")

func renderAlert(a *EndpointAlert) (renderedAlert, error) {
	w := a.wire(false)
	head, err := encodeWire(&w)
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
	ev, err := encodeWire(evs)
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

// decode turns a rendered alert back into an EndpointAlert (evidence
// included), for Latest and Update.
func (r *renderedAlert) decode() (EndpointAlert, error) {
	doc := make([]byte, 0, len(r.head)+len(r.evidence)+1)
	doc = append(append(append(doc, r.head...), r.evidence...), '}')
	var a EndpointAlert
	err := a.UnmarshalJSON(doc)
	return a, err
}

// dotNetTicks is the .NET DateTime tick count (100 ns since 0001-01-01) of t,
// as MDE alert ids carry it.
func dotNetTicks(t time.Time) int64 {
	const unixEpochTicks = 621355968000000000
	return unixEpochTicks + t.Unix()*10_000_000 + int64(t.Nanosecond())/100
}

// endpointAlertID builds an id in MDE's form: "da", 18 digits of .NET ticks,
// "_", a signed 32-bit number ("da637472900382838869_1364969609",
// "da637551227677560813_-961444813").
func endpointAlertID(ticks int64, n int32) string {
	return "da" + strconv.FormatInt(ticks, 10) + "_" + strconv.FormatInt(int64(n), 10)
}
