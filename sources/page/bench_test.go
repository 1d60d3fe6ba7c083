package page

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// benchPage is a page of n alert-like items of about 3.5 KB (the small end of real alerts),
// with the OData fields around them.
func benchPage(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"@odata.context":"https://api.securitycenter.microsoft.com/api/$metadata#Alerts","value":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"da%016d_-1234567890","incidentId":%d,"severity":"High","status":"New","title":"Suspicious PowerShell command line","description":%q,"lastUpdateTime":"2026-01-02T03:04:05.1234567Z","evidence":[`,
			i, i, strings.Repeat("A process ran a command line that looks like an attack. ", 20))
		for j := range 8 {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"entityType":"Process","sha1":"%040d","fileName":"powershell.exe","filePath":"C:\\Windows\\System32","processId":%d,"processCommandLine":"powershell -enc AAAA","accountName":"user%d","domainName":"CONTOSO"}`, j, j, j)
		}
		b.WriteString(`]}`)
	}
	b.WriteString(`],"@odata.nextLink":"https://api.securitycenter.microsoft.com/api/alerts?$skip=1000"}`)
	return b.Bytes()
}

type benchItem struct {
	ID             string     `json:"id"`
	IncidentID     *int64     `json:"incidentId"`
	Severity       *string    `json:"severity"`
	Status         *string    `json:"status"`
	Title          *string    `json:"title"`
	Description    *string    `json:"description"`
	LastUpdateTime *time.Time `json:"lastUpdateTime"`
	Evidence       []struct {
		EntityType  string `json:"entityType"`
		SHA1        string `json:"sha1"`
		FileName    string `json:"fileName"`
		FilePath    string `json:"filePath"`
		ProcessID   *int64 `json:"processId"`
		CommandLine string `json:"processCommandLine"`
		AccountName string `json:"accountName"`
		DomainName  string `json:"domainName"`
	} `json:"evidence"`
}

// BenchmarkDecodeInto is the page decoder alone (no normalization): 1,000 items decoded into
// a struct off an in-memory body, each with its own bytes.
func BenchmarkDecodeInto(b *testing.B) {
	body := benchPage(1000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		_, err := DecodeInto(bytes.NewReader(body), "value", func(_ []byte, _ *benchItem, err error) error {
			n++
			return err
		})
		if err != nil || n != 1000 {
			b.Fatalf("%d items: %v", n, err)
		}
	}
}

// BenchmarkDecode is Decode: each item's bytes only (Defender for Cloud Apps' path).
func BenchmarkDecode(b *testing.B) {
	body := benchPage(1000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		_, err := Decode(bytes.NewReader(body), "value", func(_ []byte, err error) error {
			n++
			return err
		})
		if err != nil || n != 1000 {
			b.Fatalf("%d items: %v", n, err)
		}
	}
}
