package endpoint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/sourcetest"
)

// TestAlertWithMoreEntitiesThanAnEnvelopeLists: an alert whose evidence names 1,500 different
// addresses (and some twice) is exported with its device and the first addresses up to
// envelope.MaxEntities, its raw with every evidence item, and a warning naming it.
func TestAlertWithMoreEntitiesThanAnEnvelopeLists(t *testing.T) {
	t.Parallel()
	f := newFixture(t, setup{})
	now := f.Clock.Now()
	created := now.Add(-time.Minute)
	var evidence []sim.EndpointEvidence
	for i := range 1500 {
		for range 1 + i%2 { // every other address twice: de-duplicated before the cap
			ip := fmt.Sprintf("10.0.%d.%d", i/256, i%256)
			evidence = append(evidence, sim.EndpointEvidence{EntityType: "Ip", IPAddress: &ip})
		}
	}
	machine, host := "m1", "ws1.contoso.local"
	const id = "da639310000000000000_7"
	f.ep.Put(sim.EndpointAlert{ID: id, Severity: "High", Status: "New", Title: "Scan", Category: "Discovery",
		DetectionSource: "WindowsDefenderAtp", AlertCreationTime: &created, LastUpdateTime: &now,
		MachineID: machine, ComputerDNSName: host, Evidence: evidence}, now)

	var logs bytes.Buffer
	e := sourcetest.NewExporter(t, f.newSource(Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}))
	e.MustPoll(t)

	env := e.Envs[msgID(id, now)]
	if env == nil {
		t.Fatalf("the alert was not exported: %v", e.Got)
	}
	if len(env.Entities) != envelope.MaxEntities {
		t.Fatalf("the envelope lists %d entities, want %d", len(env.Entities), envelope.MaxEntities)
	}
	if d := env.Entities[0]; d.Type != "device" || d.ID != machine {
		t.Errorf("first entity %+v, want the device", d)
	}
	if last, want := env.Entities[len(env.Entities)-1].Address, fmt.Sprintf("10.0.%d.%d", 998/256, 998%256); last != want {
		t.Errorf("last entity listed is %s, want %s (the first addresses, each once)", last, want)
	}
	var raw struct{ Evidence []json.RawMessage }
	if err := json.Unmarshal(env.Raw, &raw); err != nil || len(raw.Evidence) != len(evidence) {
		t.Errorf("raw has %d evidence items (%v), want all %d", len(raw.Evidence), err, len(evidence))
	}
	if log := logs.String(); !strings.Contains(log, "level=WARN") || !strings.Contains(log, "alert="+id) ||
		!strings.Contains(log, "entities=1501") || !strings.Contains(log, "listed=1000") {
		t.Errorf("log %q: want a warning naming the alert, its 1,501 entities and the 1,000 listed", log)
	}
}
