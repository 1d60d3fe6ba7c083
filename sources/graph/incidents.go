package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/apis"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/httpclient"
	"github.com/alertexport/alertexport/sources/page"
)

// IncidentsName is the incidents source's name in subjects, state keys and metrics.
const IncidentsName = "incidents"

// maxStuck is how long after its version an incident whose alerts cannot be read holds the
// cursor back; past it, the version is published as a dead letter with the error, so that one
// incident cannot hold its job back for good.
const maxStuck = time.Hour

// NewIncidents returns the source of a tenant's incidents job (GET /v1.0/security/incidents,
// learn.microsoft.com/graph/api/security-list-incidents), one message per incident version.
//
// The list is asked without $expand=alerts: on large tenants, $expand=alerts with a $filter
// answers a persistent HTTP 500 when an incident has many alerts, and the export of every
// incident stalled behind it (elastic/integrations#18144). Each incident version to export is
// then read on its own with GET /security/incidents/{id}?$expand=alerts, which Elastic found
// to avoid that failure (elastic/integrations#18277), for its complete alert ids. When that
// read fails, the other incidents go on; the cursor waits at the failed one, which the next
// poll reads again, for up to maxStuck (docs/incidents.md).
func NewIncidents(s apis.Settings, api *httpclient.API, o Options) *Source {
	src := newSource(apis.Incidents, "/v1.0/security/incidents", s, api, o)
	// "The most recent incidents are displayed at the top of the list"
	// (learn.microsoft.com/graph/api/security-list-incidents): by creation. An update leaves an
	// incident where it is, so the pass still reads every incident there from start to end;
	// one updated behind the reader is read by the next poll, as the cursor stays at the
	// service's clock when the pass began.
	src.byCreation = true
	src.decode = func(p *poll, ctx context.Context, body io.Reader) (map[string]json.RawMessage, error) {
		return page.DecodeInto(body, "value", func(raw []byte, in *incident, derr error) error {
			v, ok := p.listedIncident(raw, in, derr)
			if !ok {
				return p.Take(ctx, p, v, func(string) (envelope.Envelope, error) { return nil, errNoVersion })
			}
			p.listed = append(p.listed, listed{v: v, in: in})
			return nil
		}, page.Need("@odata.nextLink"), page.Log(src.opts.Logger.With("tenant", src.id.Tenant, "source", src.name)))
	}
	src.afterPage = func(p *poll, ctx context.Context) error {
		defer func() { p.listed = p.listed[:0] }()
		for _, l := range p.listed {
			if err := p.takeIncident(ctx, l); err != nil {
				return err
			}
		}
		return nil
	}
	return src
}

// incident is a Microsoft Graph security incident as the list sends it
// (learn.microsoft.com/graph/api/resources/security-incident). Microsoft's own examples spell
// the enums in two cases ("Active", "active") and the custom tags under two keys (customTags,
// tags): both are read.
type incident struct {
	ID                 string     `json:"id"`
	DisplayName        *string    `json:"displayName"`
	Description        *string    `json:"description"`
	Severity           *string    `json:"severity"`
	Status             *string    `json:"status"`
	Classification     *string    `json:"classification"`
	Determination      *string    `json:"determination"`
	AssignedTo         *string    `json:"assignedTo"`
	CreatedDateTime    *time.Time `json:"createdDateTime"`
	LastUpdateDateTime *time.Time `json:"lastUpdateDateTime"`
	IncidentWebURL     *string    `json:"incidentWebUrl"`
	RedirectIncidentID *string    `json:"redirectIncidentId"`
	CustomTags         []string   `json:"customTags"`
	Tags               []string   `json:"tags"`
	SystemTags         []string   `json:"systemTags"`
}

// listed is an incident version the list showed, waiting for its alerts.
type listed struct {
	v  sources.Version
	in *incident
}

// listedIncident is the version of an incident the list sent; ok is false when it is to be
// taken as it is (a dead letter, or a version already exported or left out).
func (p *poll) listedIncident(raw []byte, in *incident, derr error) (sources.Version, bool) {
	v := sources.Version{Raw: raw, Err: page.ItemErr(raw, derr), Cursor: p.prev}
	if v.Err != nil {
		v.ID, v.Time, v.Dated = page.Version(raw, "lastUpdateDateTime")
		return v, false
	}
	if in.ID == "" || in.LastUpdateDateTime == nil {
		return v, false
	}
	v.ID, v.Time, v.Dated = in.ID, in.LastUpdateDateTime.UTC(), true
	if in.Severity != nil {
		v.Severity = *in.Severity
	}
	v.Preexisting = in.CreatedDateTime != nil && in.CreatedDateTime.Before(p.lower)
	// Exported already, or out of a backfill's range, or below min_severity: no need for its
	// alerts (Take leaves it out again, and notes its time for the cursor).
	below := v.Severity != "" && len(p.Below) > 0 && containsFold(p.Below, v.Severity)
	return v, !p.Skip(v.ID, v.Time) && !below
}

// takeIncident reads the alerts of the listed incident version l and takes the version.
func (p *poll) takeIncident(ctx context.Context, l listed) error {
	ids, current, err := p.src.incidentAlerts(ctx, l.v.ID)
	switch {
	case err == nil && current.Equal(l.v.Time):
		return p.Take(ctx, p, l.v, func(event string) (envelope.Envelope, error) {
			return normalizeIncident(l.in, l.v.Raw, ids, p.src.id, event), nil
		})
	case err == nil:
		// Changed between the list and the read: the alerts are another version's. The next
		// poll lists the new one.
		p.src.opts.Logger.Debug("an incident changed while it was read; the next poll reads it again",
			"tenant", p.src.id.Tenant, "incident", l.v.ID, "listed", l.v.Time, "read", current)
		p.hold(l.v.Time)
		return nil
	case ctx.Err() != nil:
		return err
	}
	var he *httpclient.Error
	if errors.As(err, &he) && (he.Status == http.StatusUnauthorized || he.Status == http.StatusForbidden) {
		return err // the whole API is closed to the app: the poll fails, as the list's would
	}
	if age := p.horizon.Now().Sub(l.v.Time); age > maxStuck {
		l.v.Err = fmt.Errorf("the incident's alerts could not be read for %s after this version: %w", maxStuck, err)
		return p.Take(ctx, p, l.v, nil)
	}
	p.src.opts.Logger.Warn("an incident's alerts could not be read; the other incidents go on, and the next poll reads this one again",
		"tenant", p.src.id.Tenant, "incident", l.v.ID, "version", l.v.Time, "error", err)
	p.hold(l.v.Time)
	return nil
}

// hold keeps the cursor at or before t, so that the next poll reads version t again.
func (p *poll) hold(t time.Time) {
	p.dirty = true
	if p.stuck.IsZero() || t.Before(p.stuck) {
		p.stuck = t
	}
}

// incidentAlerts reads incident id with its alerts: their ids, and the incident's
// lastUpdateDateTime in that answer. The alerts are streamed, one at a time, so that a large
// incident costs no more memory than a small one.
func (s *Source) incidentAlerts(ctx context.Context, id string) ([]string, time.Time, error) {
	u := s.listURL + "/" + url.PathEscape(id) + "?" + url.Values{"$expand": {"alerts"}}.Encode()
	var ids []string
	var updated time.Time
	err := s.api.Get(ctx, u, func(body io.Reader) error {
		ids = ids[:0]
		rest, err := page.Decode(body, "alerts", func(raw []byte, _ error) error {
			// An alert over the item cap comes cut: its id is among its first bytes.
			var a struct {
				ID string `json:"id"`
			}
			if err := page.Unmarshal(page.Fields(raw, "id"), &a); err != nil || a.ID == "" {
				return fmt.Errorf("incident %s: an alert without an id", id)
			}
			ids = append(ids, a.ID)
			return nil
		}, page.Need("lastUpdateDateTime"))
		if err != nil {
			return &httpclient.BodyError{Err: err}
		}
		if err := page.Unmarshal(rest["lastUpdateDateTime"], &updated); err != nil {
			return &httpclient.BodyError{Err: fmt.Errorf("incident %s: lastUpdateDateTime: %w", id, err)}
		}
		return nil
	})
	return ids, updated.UTC(), err
}

// normalizeIncident builds the envelope of one incident version with its alerts' ids.
func normalizeIncident(in *incident, raw []byte, alertIDs []string, id sources.Identity, event string) *envelope.Incident {
	if alertIDs == nil {
		alertIDs = []string{}
	}
	return &envelope.Incident{
		Schema:             envelope.IncidentSchema,
		ID:                 in.ID,
		Source:             IncidentsName,
		Tenant:             id.Tenant,
		TenantID:           id.TenantID,
		Event:              event,
		Title:              in.DisplayName,
		Description:        in.Description,
		Severity:           envelope.NormalizeSeverity(str(in.Severity)),
		Status:             incidentStatus(str(in.Status)),
		Classification:     enum(in.Classification),
		Determination:      enum(in.Determination),
		AssignedTo:         nonEmpty(in.AssignedTo),
		CreatedAt:          envelope.UTC(in.CreatedDateTime),
		UpdatedAt:          in.LastUpdateDateTime.UTC(),
		URL:                nonEmpty(in.IncidentWebURL),
		RedirectIncidentID: nonEmpty(in.RedirectIncidentID),
		Tags:               tags(in.CustomTags, in.Tags, in.SystemTags),
		AlertIDs:           alertIDs,
		Raw:                raw,
	}
}

// incidentStatus maps Graph's incident status, in any case (security-incident: active,
// inProgress, resolved, redirected, awaitingAction; unknownFutureValue and anything else read
// unknown).
func incidentStatus(s string) string {
	switch envelope.Lower(s, "active", "inprogress", "resolved", "redirected", "awaitingaction") {
	case "active":
		return envelope.IncidentActive
	case "inprogress":
		return envelope.IncidentInProgress
	case "resolved":
		return envelope.IncidentResolved
	case "redirected":
		return envelope.IncidentRedirected
	case "awaitingaction":
		return envelope.IncidentAwaitingAction
	}
	return envelope.IncidentUnknown
}

// tags joins the tag lists, each tag once, in order.
func tags(lists ...[]string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, l := range lists {
		for _, t := range l {
			if t != "" && !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
