package endpoint

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

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

func (u *user) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var s string
	if len(b) > 0 && b[0] == '"' && page.Unmarshal(b, &s) == nil {
		if domain, name, ok := strings.Cut(s, `\`); ok {
			u.Domain, u.Name = domain, name
		} else {
			u.Name = s
		}
		return nil
	}
	var o struct {
		UserName    *string `json:"userName"`
		AccountName *string `json:"accountName"`
		DomainName  *string `json:"domainName"`
	}
	if err := page.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("user: want an object or a string: %w", err)
	}
	u.Name = deref(o.UserName)
	if u.Name == "" {
		u.Name = deref(o.AccountName)
	}
	u.Domain = deref(o.DomainName)
	return nil
}

// stringList is mitreTechniques: documented as String, sent as an array of strings.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*l = nil
		return nil
	}
	var s string
	if len(b) > 0 && b[0] == '"' && page.Unmarshal(b, &s) == nil {
		*l = nil
		for _, t := range strings.Split(s, ",") {
			if t = strings.TrimSpace(t); t != "" {
				*l = append(*l, t)
			}
		}
		return nil
	}
	var a []string
	if err := page.Unmarshal(b, &a); err != nil {
		return fmt.Errorf("mitreTechniques: want an array of strings: %w", err)
	}
	*l = a
	return nil
}

// flexString is an ID the API documents as a number (incidentId: Nullable Long) that the
// envelope carries as a string; a string is accepted too.
type flexString struct{ s *string }

func (f *flexString) UnmarshalJSON(b []byte) error {
	switch {
	case bytes.Equal(b, []byte("null")):
		f.s = nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := page.Unmarshal(b, &s); err != nil {
			return err
		}
		f.s = &s
	case len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9'):
		s := string(b) // a JSON number (the decoder checked it), as written
		f.s = &s
	default:
		return fmt.Errorf("want a number or a string, got %.20s", b)
	}
	return nil
}

// flexInt is a process ID: a number, or a numeric string. Anything else ("n/a") is no process
// ID rather than a reason to dead-letter the whole alert; raw keeps what was sent.
type flexInt struct{ n *int64 }

func (f *flexInt) UnmarshalJSON(b []byte) error {
	f.n = nil
	if n, err := strconv.ParseInt(string(bytes.Trim(b, `"`)), 10, 64); err == nil {
		f.n = &n
	}
	return nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
