package graph

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alertexport/alertexport/internal/sim/endpoint"
	"github.com/alertexport/alertexport/internal/sim/simapi"
)

// Seeded generation of incidents: each groups new Graph-only alerts drawn as
// graph's Tenant.Generate draws them, named and rated as Defender names and
// rates incidents (the most severe alert's severity; "Multi-stage incident
// involving ..." for several alerts, as in List incidents' example).

// IncidentGenerate describes the incidents IncidentTenant.Generate creates.
type IncidentGenerate struct {
	// From and To bound the incidents' createdDateTime and
	// lastUpdateDateTime, and their alerts' lastUpdateDateTime, spread at
	// random over [From, To] at 100 ns. Both zero means the simulator's now;
	// if only one is set, it is used for both.
	From, To time.Time
	// VisibleAfter is the late-indexing delay: an incident (and each of its
	// alerts) becomes visible at its lastUpdateDateTime + VisibleAfter.
	VisibleAfter time.Duration
	// MaxAlerts bounds the alerts of each incident: 1 to MaxAlerts, drawn;
	// 0 means 3.
	MaxAlerts int
}

// Generate creates n new incidents with the tenant's seeded generator, each
// grouping 1 to g.MaxAlerts new Graph alerts (of the tenant's Graph store),
// and returns their ids in creation order. It panics if To is before From.
func (t *IncidentTenant) Generate(n int, g IncidentGenerate) []string {
	if n <= 0 {
		return nil
	}
	maxAlerts := g.MaxAlerts
	if maxAlerts <= 0 {
		maxAlerts = 3
	}
	from, to := simapi.GenerateRange(g.From, g.To, t.srv.Now, endpoint.Tick, "IncidentTenant.Generate")

	t.mu.Lock()
	defer t.mu.Unlock()
	gen := t.generator()
	ids := make([]string, 0, n)
	for range n {
		updated := gen.instant(from, to)
		created := gen.instant(from, updated)
		t.lastID += 1 + gen.RNG.Int64N(5) // other tenants' incidents take ids in between
		id := strconv.FormatInt(t.lastID, 10)
		k := 1 + gen.RNG.IntN(maxAlerts)
		alerts := make([]Alert, k)
		visible := make([]time.Time, k)
		for i := range alerts {
			u := updated
			if i > 0 { // the first alert's update is the incident's
				u = gen.instant(created, updated)
			}
			alerts[i] = gen.incidentAlert(id, created, u)
			visible[i] = u.Add(g.VisibleAfter)
		}
		inc := gen.incident(id, created, updated, alerts, t.styleShare)
		alertIDs, err := t.graph.addIncidentAlerts(alerts, visible)
		if err != nil {
			panic(err) // generated alerts always render
		}
		t.store.Add(id, t.srv.newRevision(inc, alertIDs, updated.Add(g.VisibleAfter)))
		ids = append(ids, id)
	}
	return ids
}

// UpdateRandom changes n distinct incidents, chosen by the seeded generator
// (incidents merged into another are left as they are, so fewer may
// change), as analysts and Defender's correlation do: mostly one step of the
// analyst's lifecycle (see Update), sometimes a new alert joins (AddAlert),
// now and then the incident is merged into another (Merge). Each new version
// is visible visibleAfter after its lastUpdateDateTime. It returns the ids
// of the incidents that changed.
func (t *IncidentTenant) UpdateRandom(n int, visibleAfter time.Duration) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	gen := t.generator()
	var out []string
	for _, id := range t.store.PickRandom(gen.RNG, n) {
		if t.store.Alerts[id].Latest().inc.Status == "redirected" {
			continue
		}
		var err error
		switch x := gen.RNG.IntN(20); {
		case x < 4:
			_, err = t.addAlertsLocked(id, 1, visibleAfter)
		case x == 4:
			var into string
			for _, other := range t.store.PickRandom(gen.RNG, 3) {
				if other != id && t.store.Alerts[other].Latest().inc.Status != "redirected" {
					into = other
					break
				}
			}
			if into != "" {
				err = t.mergeLocked(id, into, visibleAfter)
				break
			}
			fallthrough
		default:
			err = t.updateLocked(id, gen.incidentStep, visibleAfter)
		}
		if err != nil {
			panic(err) // the ids are known and not redirected
		}
		out = append(out, id)
	}
	return out
}

// generator is the tenant's incident generator. t.mu must be held.
func (t *IncidentTenant) generator() *graphGen {
	return &graphGen{Draws: simapi.Draws{RNG: t.rng}, tenant: t.id, now: t.srv.Now}
}

// instant is a time in [from, to] at 100 ns.
func (g *graphGen) instant(from, to time.Time) time.Time {
	if !to.After(from) {
		return from
	}
	return from.Add(time.Duration(g.RNG.Int64N(int64(to.Sub(from))/int64(endpoint.Tick)+1)) * endpoint.Tick)
}

var graphKindWeights = func() []int {
	w := make([]int, len(graphKinds))
	for i, k := range graphKinds {
		w[i] = k.weight
	}
	return w
}()

// incidentAlert draws a Graph-only alert of incident id, created no earlier
// than the incident, last updated at updated.
func (g *graphGen) incidentAlert(id string, created, updated time.Time) Alert {
	a := g.alert(&graphKinds[g.WeightedIndex(graphKindWeights...)], updated)
	a.IncidentID = simapi.Ptr(id)
	a.IncidentWebURL = portalURL("incidents", id, g.tenant)
	if a.CreatedDateTime.Before(created) {
		c := created
		a.CreatedDateTime = &c
	}
	if a.ResolvedDateTime != nil && a.ResolvedDateTime.Before(*a.CreatedDateTime) {
		r := *a.CreatedDateTime
		a.ResolvedDateTime = &r
	}
	return a
}

var incidentSummaries = []string{
	"The attacker signed in with a leaked credential, read mail and created an inbox rule that forwards invoices.",
	"Ransomware-Vorbereitung: Schattenkopien gelöscht, Backups verschlüsselt.",
	"攻撃者は USB 経由で拡散するワームを使用しました。",
}

var incidentTags = [][]string{{"Demo"}, {"tier-0", "PCI"}, {"Kundendaten ✓"}}

// incident draws the incident that groups alerts (drawn already).
func (g *graphGen) incident(id string, created, updated time.Time, alerts []Alert, styleShare float64) Incident {
	inc := Incident{
		ID: id, TenantID: g.tenant, CreatedDateTime: created, LastUpdateDateTime: updated,
		IncidentWebURL: *portalURL("incidents", id, g.tenant),
		Severity:       "unknown", Classification: "unknown", Determination: "unknown",
		CustomTags: []string{}, SystemTags: []string{}, Comments: []IncidentComment{},
		Description: alerts[0].Description,
	}
	var categories []string
	for _, a := range alerts {
		inc.Severity = maxSeverity(inc.Severity, a.Severity)
		if a.Category != nil && !slices.Contains(categories, *a.Category) {
			categories = append(categories, *a.Category)
		}
	}
	switch {
	case len(alerts) == 1:
		inc.DisplayName = alerts[0].Title + " involving one user"
	case len(categories) >= 2:
		inc.DisplayName = fmt.Sprintf("Multi-stage incident involving %s & %s on multiple endpoints reported by multiple sources",
			categoryWords(categories[0]), categoryWords(categories[1]))
	default:
		inc.DisplayName = alerts[0].Title + " on multiple endpoints"
	}
	inc.Status = incidentStatuses[[]int{0, 2, 1, 5}[g.WeightedIndex(50, 20, 25, 5)]] // active, inProgress, resolved, awaitingAction
	if inc.Status != "active" || g.Chance(0.2) {
		inc.AssignedTo = simapi.Ptr(g.Pick(graphAnalysts))
	}
	if inc.Status == "resolved" && g.Chance(0.85) || g.Chance(0.1) {
		inc.Classification, inc.Determination = g.classification()
	}
	if i := g.WeightedIndex(60, 25, 10, 5); i > 0 {
		inc.CustomTags = slices.Clone(incidentTags[i-1])
	}
	if g.Chance(0.1) {
		inc.SystemTags = []string{"Defender Experts"}
	}
	for range g.WeightedIndex(70, 20, 10) {
		inc.Comments = append(inc.Comments, IncidentComment{Comment: g.Pick(graphCommentTexts), CreatedBy: g.Pick(graphAnalysts),
			CreatedTime: g.instant(created, updated)})
	}
	if g.Chance(0.2) {
		inc.Summary = simapi.Ptr(g.Pick(incidentSummaries))
	}
	// Drawn whatever the share, so that the share does not shift the
	// other draws.
	if x := g.RNG.Float64(); x < styleShare {
		inc.Style = IncidentStylePascalCase
		if x >= styleShare/2 {
			inc.Style = IncidentStyleTags
		}
	}
	return inc
}

// categoryWords writes an alert category as the portal names it in incident
// names ("InitialAccess" → "Initial access").
func categoryWords(c string) string {
	var b strings.Builder
	for i, r := range c {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// incidentStep is one analyst action on an incident (UpdateRandom).
func (g *graphGen) incidentStep(inc *Incident) {
	now := g.now().UTC().Truncate(endpoint.Tick)
	comment := func() {
		inc.Comments = append(inc.Comments, IncidentComment{Comment: g.Pick(graphCommentTexts), CreatedBy: g.Pick(graphAnalysts), CreatedTime: now})
	}
	switch inc.Status {
	case "active", "awaitingAction":
		inc.Status = "inProgress"
		inc.AssignedTo = simapi.Ptr(g.Pick(graphAnalysts))
	case "inProgress":
		inc.Status = "resolved"
		if inc.Classification == "unknown" || g.Chance(0.3) {
			inc.Classification, inc.Determination = g.classification()
		}
	default:
		if g.Chance(0.25) {
			inc.Status = "active"
		} else {
			comment()
			return
		}
	}
	if g.Chance(0.25) {
		comment()
	}
	if g.Chance(0.1) {
		inc.CustomTags = append(slices.Clone(inc.CustomTags), "triaged")
	}
}
