package graph

import (
	"encoding/json"
	"time"
)

// alert is a Microsoft Graph security alert as List alerts_v2 sends it
// (learn.microsoft.com/graph/api/resources/security-alert). A
// top-level property of the wrong type fails the whole alert (a dead letter); evidence items
// are decoded one by one, so one malformed item costs only itself (see entities).
type alert struct {
	ID                    string     `json:"id"`
	ProviderAlertID       *string    `json:"providerAlertId"`
	IncidentID            *string    `json:"incidentId"`
	Status                *string    `json:"status"`
	Severity              *string    `json:"severity"`
	Classification        *string    `json:"classification"`
	Determination         *string    `json:"determination"`
	ServiceSource         *string    `json:"serviceSource"`
	DetectionSource       *string    `json:"detectionSource"`
	DetectorID            *string    `json:"detectorId"`
	TenantID              *string    `json:"tenantId"`
	Title                 *string    `json:"title"`
	Description           *string    `json:"description"`
	Category              *string    `json:"category"`
	AssignedTo            *string    `json:"assignedTo"`
	AlertWebURL           *string    `json:"alertWebUrl"`
	IncidentWebURL        *string    `json:"incidentWebUrl"`
	ActorDisplayName      *string    `json:"actorDisplayName"`
	ThreatDisplayName     *string    `json:"threatDisplayName"`
	ThreatFamilyName      *string    `json:"threatFamilyName"`
	AlertPolicyID         *string    `json:"alertPolicyId"` // on the Learn page and in the v1.0 metadata, not on the stored resource page
	MitreTechniques       []string   `json:"mitreTechniques"`
	CreatedDateTime       *time.Time `json:"createdDateTime"`
	LastUpdateDateTime    *time.Time `json:"lastUpdateDateTime"`
	ResolvedDateTime      *time.Time `json:"resolvedDateTime"`
	FirstActivityDateTime *time.Time `json:"firstActivityDateTime"`
	LastActivityDateTime  *time.Time `json:"lastActivityDateTime"`
	// Evidence is decoded item by item in normalize, by its @odata.type.
	Evidence []json.RawMessage `json:"evidence"`
}

// The evidence types (security-*evidence.md), with the properties the envelope uses; the
// others stay in raw. Strings are plain: null reads as "".

// evidenceHead is what every item has: its type, "#microsoft.graph.security.<name>".
type evidenceHead struct {
	Type string `json:"@odata.type"`
}

// userAccount is the userAccount complex type (security-useraccount.md).
type userAccount struct {
	AccountName       string `json:"accountName"`
	DomainName        string `json:"domainName"`
	UserSID           string `json:"userSid"`
	AzureADUserID     string `json:"azureAdUserId"`
	UserPrincipalName string `json:"userPrincipalName"`
	DisplayName       string `json:"displayName"`
}

// fileDetails is the fileDetails complex type (security-filedetails.md).
type fileDetails struct {
	FileName string `json:"fileName"`
	FilePath string `json:"filePath"`
	SHA1     string `json:"sha1"`
	SHA256   string `json:"sha256"`
}

type deviceEvidence struct {
	MDEDeviceID   string `json:"mdeDeviceId"`
	DeviceDNSName string `json:"deviceDnsName"`
	HostName      string `json:"hostName"`
	LoggedOnUsers []struct {
		AccountName string `json:"accountName"`
		DomainName  string `json:"domainName"`
	} `json:"loggedOnUsers"`
}

type userEvidence struct {
	UserAccount *userAccount `json:"userAccount"`
}

type ipEvidence struct {
	IPAddress string `json:"ipAddress"`
}

type urlEvidence struct {
	URL string `json:"url"`
}

type fileEvidence struct {
	FileDetails *fileDetails `json:"fileDetails"`
}

type processEvidence struct {
	ProcessID              *int64       `json:"processId"`
	ParentProcessID        *int64       `json:"parentProcessId"`
	ProcessCommandLine     string       `json:"processCommandLine"`
	ImageFile              *fileDetails `json:"imageFile"`
	ParentProcessImageFile *fileDetails `json:"parentProcessImageFile"`
	UserAccount            *userAccount `json:"userAccount"`
}

type registryEvidence struct { // registryKeyEvidence and registryValueEvidence
	RegistryKey       string `json:"registryKey"`
	RegistryHive      string `json:"registryHive"`
	RegistryValueName string `json:"registryValueName"`
	RegistryValueType string `json:"registryValueType"`
	RegistryValue     string `json:"registryValue"`
}

type mailboxEvidence struct {
	DisplayName    string       `json:"displayName"`
	PrimaryAddress string       `json:"primaryAddress"`
	UPN            string       `json:"upn"`
	UserAccount    *userAccount `json:"userAccount"`
}

type analyzedMessageEvidence struct {
	NetworkMessageID string `json:"networkMessageId"`
	Subject          string `json:"subject"`
}

type mailClusterEvidence struct {
	URN   string `json:"urn"`
	Query string `json:"query"`
}

type cloudApplicationEvidence struct {
	AppID       json.Number `json:"appId"` // Int64: the Cloud Apps app id (11161 is Office 365)
	DisplayName string      `json:"displayName"`
}

type oauthApplicationEvidence struct {
	AppID       string `json:"appId"`
	DisplayName string `json:"displayName"`
}

type securityGroupEvidence struct {
	SecurityGroupID string `json:"securityGroupId"`
	DisplayName     string `json:"displayName"`
	SID             string `json:"sid"`
}

type azureResourceEvidence struct {
	ResourceID   string `json:"resourceId"`
	ResourceName string `json:"resourceName"`
}

type aiAgentEvidence struct {
	AgentID   string `json:"agentId"`
	AgentName string `json:"agentName"`
}

type cloudLogonSessionEvidence struct {
	SessionID string        `json:"sessionId"`
	Account   *userEvidence `json:"account"` // a userEvidence
}
