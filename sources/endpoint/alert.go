package endpoint

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/alertexport/alertexport/sources/page"
)

// alert is a Defender for Endpoint alert as the List alerts API sends it
// (learn.microsoft.com/defender-endpoint/api/alerts). Where the documentation and its examples
// disagree on a type (mitreTechniques, relatedUser, the id numbers), both forms are accepted.
type alert struct {
	ID                string     `json:"id"`
	IncidentID        flexString `json:"incidentId"`
	AssignedTo        *string    `json:"assignedTo"`
	Severity          *string    `json:"severity"`
	Status            *string    `json:"status"`
	Classification    *string    `json:"classification"`
	Determination     *string    `json:"determination"`
	DetectionSource   *string    `json:"detectionSource"`
	Category          *string    `json:"category"`
	Title             *string    `json:"title"`
	Description       *string    `json:"description"`
	AlertCreationTime *time.Time `json:"alertCreationTime"`
	FirstEventTime    *time.Time `json:"firstEventTime"`
	LastEventTime     *time.Time `json:"lastEventTime"`
	LastUpdateTime    *time.Time `json:"lastUpdateTime"`
	ResolvedTime      *time.Time `json:"resolvedTime"`
	MachineID         *string    `json:"machineId"`
	ComputerDNSName   *string    `json:"computerDnsName"`
	MitreTechniques   stringList `json:"mitreTechniques"`
	RelatedUser       *user      `json:"relatedUser"`
	LoggedOnUsers     []user     `json:"loggedOnUsers"` // not documented on alerts (SIEM API field); used if present
	Evidence          []evidence `json:"evidence"`
}

// evidence is one item of an alert's evidence ($expand=evidence).
type evidence struct {
	EntityType            *string `json:"entityType"`
	SHA1                  *string `json:"sha1"`
	SHA256                *string `json:"sha256"`
	FileName              *string `json:"fileName"`
	FilePath              *string `json:"filePath"`
	ProcessID             flexInt `json:"processId"`
	ProcessCommandLine    *string `json:"processCommandLine"`
	ParentProcessID       flexInt `json:"parentProcessId"`
	ParentProcessFileName *string `json:"parentProcessFileName"`
	IPAddress             *string `json:"ipAddress"`
	URL                   *string `json:"url"`
	RegistryKey           *string `json:"registryKey"`
	RegistryHive          *string `json:"registryHive"`
	RegistryValueType     *string `json:"registryValueType"`
	RegistryValue         *string `json:"registryValue"`
	AccountName           *string `json:"accountName"`
	DomainName            *string `json:"domainName"`
	UserSID               *string `json:"userSid"`
	AADUserID             *string `json:"aadUserId"`
	UserPrincipalName     *string `json:"userPrincipalName"`
}

// user is relatedUser ({"userName","domainName"}, or "DOMAIN\name" as the property table's
// String type suggests) and an entry of loggedOnUsers ({"accountName","domainName"}).
type user struct {
	Name, Domain string
}

// stringList is mitreTechniques: documented as String, sent as an array of strings.
type stringList []string

// flexString is an ID the API documents as a number (incidentId: Nullable Long) that the
// envelope carries as a string; a string is accepted too.
type flexString struct{ s *string }

// flexInt is a process ID: a number, or a numeric string. Anything else ("n/a") is no process
// ID rather than a reason to dead-letter the whole alert; raw keeps what was sent.
type flexInt struct{ n *int64 }

// The alert is decoded by hand (page.Names), not by reflection: decoding was most of the CPU
// of a large backlog (BENCHMARKS.md, issue 20). Names match as page.Options matches them. The
// members are listed in the order of Microsoft's documented example (testdata/alerts/
// documented.json), the ones not read too: Object guesses each name from that order before it
// looks it up.
const (
	aID = iota
	aIncidentID
	aInvestigationID
	aAssignedTo
	aSeverity
	aStatus
	aClassification
	aDetermination
	aInvestigationState
	aDetectionSource
	aDetectorID
	aCategory
	aThreatFamilyName
	aTitle
	aDescription
	aAlertCreationTime
	aFirstEventTime
	aLastEventTime
	aLastUpdateTime
	aResolvedTime
	aMachineID
	aComputerDNSName
	aRbacGroupName
	aAADTenantID
	aThreatName
	aMitreTechniques
	aRelatedUser
	aLoggedOnUsers
	aComments
	aEvidence
	aCount
)

const (
	eEntityType = iota
	eEvidenceCreationTime
	eSHA1
	eSHA256
	eFileName
	eFilePath
	eProcessID
	eProcessCommandLine
	eProcessCreationTime
	eParentProcessID
	eParentProcessCreationTime
	eParentProcessFileName
	eParentProcessFilePath
	eIPAddress
	eURL
	eRegistryKey
	eRegistryHive
	eRegistryValueType
	eRegistryValue
	eAccountName
	eDomainName
	eUserSID
	eAADUserID
	eUserPrincipalName
	eDetectionStatus
	eCount
)

var (
	alertNames = page.NewNames((&[aCount]string{
		aID: "id", aIncidentID: "incidentId", aInvestigationID: "investigationId", aAssignedTo: "assignedTo",
		aSeverity: "severity", aStatus: "status", aClassification: "classification", aDetermination: "determination",
		aInvestigationState: "investigationState", aDetectionSource: "detectionSource", aDetectorID: "detectorId",
		aCategory: "category", aThreatFamilyName: "threatFamilyName", aTitle: "title", aDescription: "description",
		aAlertCreationTime: "alertCreationTime", aFirstEventTime: "firstEventTime", aLastEventTime: "lastEventTime",
		aLastUpdateTime: "lastUpdateTime", aResolvedTime: "resolvedTime", aMachineID: "machineId",
		aComputerDNSName: "computerDnsName", aRbacGroupName: "rbacGroupName", aAADTenantID: "aadTenantId",
		aThreatName: "threatName", aMitreTechniques: "mitreTechniques", aRelatedUser: "relatedUser",
		aLoggedOnUsers: "loggedOnUsers", aComments: "comments", aEvidence: "evidence",
	})[:]...)
	evidenceNames = page.NewNames((&[eCount]string{
		eEntityType: "entityType", eEvidenceCreationTime: "evidenceCreationTime", eSHA1: "sha1", eSHA256: "sha256",
		eFileName: "fileName", eFilePath: "filePath", eProcessID: "processId", eProcessCommandLine: "processCommandLine",
		eProcessCreationTime: "processCreationTime", eParentProcessID: "parentProcessId",
		eParentProcessCreationTime: "parentProcessCreationTime", eParentProcessFileName: "parentProcessFileName",
		eParentProcessFilePath: "parentProcessFilePath", eIPAddress: "ipAddress", eURL: "url",
		eRegistryKey: "registryKey", eRegistryHive: "registryHive", eRegistryValueType: "registryValueType",
		eRegistryValue: "registryValue", eAccountName: "accountName", eDomainName: "domainName", eUserSID: "userSid",
		eAADUserID: "aadUserId", eUserPrincipalName: "userPrincipalName", eDetectionStatus: "detectionStatus",
	})[:]...)
	userNames = page.NewNames("userName", "accountName", "domainName")
)

// evidenceRoom is the evidence items an alert's slice first has room for.
const evidenceRoom = 8

// cells keeps the page.Cells of the alerts being decoded, one per decoder at a time.
var cells = sync.Pool{New: func() any { return new(page.Cells) }}

// UnmarshalJSONFrom decodes an alert (github.com/go-json-experiment/json.UnmarshalerFrom).
func (a *alert) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	*a = alert{}
	c := cells.Get().(*page.Cells)
	defer func() {
		c.Done()
		cells.Put(c)
	}()
	return alertNames.Object(dec, func(i int) (err error) {
		switch i {
		case aID:
			var id *string
			if id, err = page.String(dec); err == nil {
				a.ID = deref(id) // a null after an id wins, as the last of a repeated name does
			}
		case aIncidentID:
			a.IncidentID, err = readFlexString(dec)
		case aAssignedTo:
			err = c.String(dec, &a.AssignedTo)
		case aSeverity:
			err = c.String(dec, &a.Severity)
		case aStatus:
			err = c.String(dec, &a.Status)
		case aClassification:
			err = c.String(dec, &a.Classification)
		case aDetermination:
			err = c.String(dec, &a.Determination)
		case aDetectionSource:
			err = c.String(dec, &a.DetectionSource)
		case aCategory:
			err = c.String(dec, &a.Category)
		case aTitle:
			err = c.String(dec, &a.Title)
		case aDescription:
			err = c.String(dec, &a.Description)
		case aAlertCreationTime:
			err = c.Time(dec, &a.AlertCreationTime)
		case aFirstEventTime:
			err = c.Time(dec, &a.FirstEventTime)
		case aLastEventTime:
			err = c.Time(dec, &a.LastEventTime)
		case aLastUpdateTime:
			err = c.Time(dec, &a.LastUpdateTime)
		case aResolvedTime:
			err = c.Time(dec, &a.ResolvedTime)
		case aMachineID:
			err = c.String(dec, &a.MachineID)
		case aComputerDNSName:
			err = c.String(dec, &a.ComputerDNSName)
		case aMitreTechniques:
			a.MitreTechniques, err = readStringList(dec)
		case aRelatedUser:
			a.RelatedUser = nil
			if dec.PeekKind() == 'n' {
				_, err = dec.ReadToken()
				break
			}
			u := new(user)
			if err = u.read(dec); err == nil {
				a.RelatedUser = u
			}
		case aLoggedOnUsers:
			a.LoggedOnUsers = a.LoggedOnUsers[:0]
			err = page.Array(dec, func() error {
				var u user
				err := u.read(dec)
				a.LoggedOnUsers = append(a.LoggedOnUsers, u)
				return err
			})
		case aEvidence:
			if len(a.Evidence) > 0 {
				c.Done() // a repeated "evidence": what was read into the items is set before they are reused
			}
			a.Evidence = a.Evidence[:0]
			err = page.Array(dec, func() error {
				switch n := len(a.Evidence); {
				case n == 0 && cap(a.Evidence) == 0:
					// Room for most alerts' evidence at once (Microsoft's examples have 1–10
					// items): each time the slice grows, the fields read into it must be set first.
					a.Evidence = make([]evidence, 0, evidenceRoom)
				case n == cap(a.Evidence):
					c.Done() // the append moves the items: their fields are set first
				}
				a.Evidence = append(a.Evidence, evidence{})
				return a.Evidence[len(a.Evidence)-1].read(dec, c)
			})
		default: // documented, not read
			err = dec.SkipValue()
		}
		return err
	})
}

// read decodes one evidence item, its strings into c.
func (ev *evidence) read(dec *jsontext.Decoder, c *page.Cells) error {
	return evidenceNames.Object(dec, func(i int) (err error) {
		switch i {
		case eEntityType:
			err = c.String(dec, &ev.EntityType)
		case eSHA1:
			err = c.String(dec, &ev.SHA1)
		case eSHA256:
			err = c.String(dec, &ev.SHA256)
		case eFileName:
			err = c.String(dec, &ev.FileName)
		case eFilePath:
			err = c.String(dec, &ev.FilePath)
		case eProcessID:
			ev.ProcessID, err = readFlexInt(dec)
		case eProcessCommandLine:
			err = c.String(dec, &ev.ProcessCommandLine)
		case eParentProcessID:
			ev.ParentProcessID, err = readFlexInt(dec)
		case eParentProcessFileName:
			err = c.String(dec, &ev.ParentProcessFileName)
		case eIPAddress:
			err = c.String(dec, &ev.IPAddress)
		case eURL:
			err = c.String(dec, &ev.URL)
		case eRegistryKey:
			err = c.String(dec, &ev.RegistryKey)
		case eRegistryHive:
			err = c.String(dec, &ev.RegistryHive)
		case eRegistryValueType:
			err = c.String(dec, &ev.RegistryValueType)
		case eRegistryValue:
			err = c.String(dec, &ev.RegistryValue)
		case eAccountName:
			err = c.String(dec, &ev.AccountName)
		case eDomainName:
			err = c.String(dec, &ev.DomainName)
		case eUserSID:
			err = c.String(dec, &ev.UserSID)
		case eAADUserID:
			err = c.String(dec, &ev.AADUserID)
		case eUserPrincipalName:
			err = c.String(dec, &ev.UserPrincipalName)
		default: // documented, not read
			err = dec.SkipValue()
		}
		return err
	})
}

// read decodes a user: an object, a "DOMAIN\name" string, or null (no user).
func (u *user) read(dec *jsontext.Decoder) error {
	*u = user{}
	if dec.PeekKind() == '"' {
		s, err := page.String(dec)
		if err != nil {
			return err
		}
		if domain, name, ok := strings.Cut(*s, `\`); ok {
			u.Domain, u.Name = domain, name
		} else {
			u.Name = *s
		}
		return nil
	}
	var userName, accountName, domainName *string
	err := userNames.Object(dec, func(i int) (err error) {
		switch i {
		case 0:
			userName, err = page.String(dec)
		case 1:
			accountName, err = page.String(dec)
		case 2:
			domainName, err = page.String(dec)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("user: want an object or a string: %w", err)
	}
	u.Name = deref(userName)
	if u.Name == "" {
		u.Name = deref(accountName)
	}
	u.Domain = deref(domainName)
	return nil
}

// readStringList reads mitreTechniques: an array of strings, a comma-separated string, or null.
func readStringList(dec *jsontext.Decoder) (stringList, error) {
	if dec.PeekKind() == '"' {
		s, err := page.String(dec)
		if err != nil {
			return nil, err
		}
		var l stringList
		for _, t := range strings.Split(*s, ",") {
			if t = strings.TrimSpace(t); t != "" {
				l = append(l, t)
			}
		}
		return l, nil
	}
	var l stringList
	err := page.Array(dec, func() error {
		s, err := page.String(dec)
		l = append(l, deref(s))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("want an array of strings: %w", err)
	}
	return l, nil
}

// readFlexString reads incidentId: a number (kept as written), a string, or null.
func readFlexString(dec *jsontext.Decoder) (flexString, error) {
	raw, err := dec.ReadValue()
	if err != nil {
		return flexString{}, err
	}
	switch raw.Kind() {
	case 'n':
		return flexString{}, nil
	case '"':
		var s string
		if err := page.Unmarshal(raw, &s); err != nil {
			return flexString{}, err
		}
		return flexString{&s}, nil
	case '0':
		s := string(raw) // a JSON number (the decoder checked it), as written
		return flexString{&s}, nil
	}
	return flexString{}, fmt.Errorf("want a number or a string, got %.20s", raw)
}

// readFlexInt reads a process ID: a number or a numeric string; anything else is none.
func readFlexInt(dec *jsontext.Decoder) (flexInt, error) {
	raw, err := dec.ReadValue()
	if err != nil {
		return flexInt{}, err
	}
	if k := raw.Kind(); k != '0' && k != '"' {
		return flexInt{}, nil
	}
	if n, err := strconv.ParseInt(string(bytes.Trim(raw, `"`)), 10, 64); err == nil {
		return flexInt{&n}, nil
	}
	return flexInt{}, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
