// Package sim is a local, faithful stand-in for the Microsoft cloud
// services alertexport talks to: Microsoft Entra ID (the login endpoints MSAL
// Go calls for the client-credentials flow), the Microsoft Defender for
// Endpoint alerts API, the Microsoft Defender for Cloud Apps alerts API and
// Microsoft Graph's security alerts_v2 and incidents.
//
// There is no network in the test environments, so the simulator is a real
// HTTPS server on 127.0.0.1 with a certificate issued by a CA it generates at
// start. Clients trust it explicitly (Server.Client, Server.CertPool or
// Server.CACertPEM for a ca_file) and point MSAL at the authority
// Server.URL()+"/"+tenantID with instance discovery disabled:
//
//	cred, err := confidential.NewCredFromSecret(secret)
//	...
//	client, err := confidential.New(s.URL()+"/"+tenantID, clientID, cred,
//		confidential.WithHTTPClient(s.Client()),
//		confidential.WithInstanceDiscovery(false),
//		confidential.WithAzureRegion("DisableMsalForceRegion"))
//
// The behaviour follows what Microsoft documents and what was measured against MSAL Go v1.10.1 (its
// apps/internal/oauth and authority packages: the exact requests MSAL sends and what it validates
// in the answers) and on the resources and audiences Microsoft documents for each API
// (defender-endpoint/api/exposed-apis-list, defender-endpoint/gov,
// defender-cloud-apps/api-authentication-application). Where Entra's answer is not documented, the
// choice made is written next to the code that makes it (see entra/aadsts.go for the error codes). The
// simulator is deliberately strict: a request that Entra would refuse is refused here too, with
// Entra's status, OAuth error and AADSTS code, so that a client that only works against the
// simulator does not exist.
//
// The Entra model is small: tenants (AddTenant, AddTenantDomain), app
// registrations with their credentials (RegisterApp), service principals that
// make an app usable in a tenant and carry its application-role grants
// (Grant, Revoke), and trusted external OIDC issuers for workload identity
// federation (NewFederatedIssuer). Faults can be queued on the token endpoint
// (FailTokenRequests) and every token request is counted and logged
// (TokenRequests, TokenLog) so tests can assert on what a client did.
//
// The Microsoft Defender for Endpoint alerts API ("List alerts", GET
// /api/alerts and /api/v1.0/alerts) follows learn.microsoft.com/defender-endpoint/api/
// get-alerts and alerts, and the pitfalls clients met
// (MicrosoftDocs/microsoft-365-docs#8489, #9246) (package endpoint). Requests need a token of the
// simulator for a WindowsDefenderATP audience with Alert.Read.All or
// Alert.ReadWrite.All; each tenant (Server.Endpoint) holds alerts with a
// history of versions, each visible from a chosen simulator time, which
// models the service's late indexing. The API implements the documented
// OData subset ($filter, $top up to 10,000, $skip, $expand=evidence) and
// refuses the rest as the service's OData stack does; it serves alerts in an
// order unrelated to time, gives no @odata.nextLink when $top is set, and
// enforces 100 calls a minute and 1,500 an hour per tenant over real time.
// Alerts are generated from a seeded generator (Options.Seed) or stored as
// given (Put); faults are queued (Fail) or drawn at random (SetFaultRates),
// and every API request is logged (APIRequests). Choices made where
// Microsoft is silent are written next to the code that makes them.
//
// The Microsoft Defender for Cloud Apps alerts API ("List alerts", GET and
// POST /api/v1/alerts/) follows learn.microsoft.com/defender-cloud-apps/api-introduction,
// api-alerts and api-alerts-list (package cloudapps).
// Requests need a token of the simulator for the Cloud Apps resource
// (05a65629-4c1b-48c1-a78b-804c4abdd4af) with Investigation.read or .manage
// or Discovery.read or .manage, or a legacy API token configured with
// CloudAppsTenant.SetLegacyToken. Parameters come as a JSON body (GET
// included), form data or the query string: filters on date,
// resolutionDate, severity, resolutionStatus, alertOpen, read, id and the
// entity.* filters with the operators the docs list for each (others are
// a 400), skip, limit (at most 100 alerts an answer), sortField and
// sortDirection; without a sort the order is opaque. Each tenant
// (Server.CloudApps) holds alerts with revisions visible from chosen
// simulator times: closing an alert makes a new version (its resolveTime),
// marking it read only changes the body. The API allows 30 requests a
// minute per tenant over real time and answers beyond with a 429 whose body
// says "throttled" and, unless Options.CloudAppsRetryAfter, no
// Retry-After. Alerts are generated (Generate, CloseRandom) or stored as
// given (Put); faults, the request log and seeding work as for Defender for
// Endpoint.
//
// Microsoft Graph's "List alerts_v2", GET /v1.0/security/alerts_v2
// (package graph), follows microsoft-graph-docs-contrib
// api-reference/v1.0/api/security-list-alerts_v2.md and
// resources/security-alert.md (and the pitfalls clients met:
// elastic/integrations#20234 and #18144). Requests need a token of the simulator for Graph
// (https://graph.microsoft.com, or the US Government clouds'
// https://graph.microsoft.us and https://dod-graph.microsoft.us, one service
// principal) with SecurityAlert.Read.All or SecurityAlert.ReadWrite.All.
// Every error has Graph's shape, {"error":{"code","message","innerError":
// {"date","request-id","client-request-id"}}}, and every answer the
// request-id and client-request-id headers (client-request-id echoes the
// client's, else repeats request-id). Decisions, with their sources:
//
//   - Auth: no token, a bad or expired one, or one for another resource is a
//     401 InvalidAuthenticationToken ("Access token validation failure.
//     Invalid audience.", microsoft-graph-docs#16208) with Graph's
//     WWW-Authenticate; a token without the role is a 403 Forbidden "Missing
//     application roles. API required roles: ..., application roles: ..."
//     (the alerts_v2 answer quoted in wazuh/wazuh-documentation#7300). That
//     answer also names SecurityIncident.Read.All and .ReadWrite.All as
//     sufficient; the documents do not, so a token with only those is
//     refused here (unknown: whether Graph accepts it).
//   - Query options: $count, $filter, $skip, $top, as the page lists;
//     $skiptoken only as @odata.nextLink carries it. $orderby, $select,
//     $expand, $search and the rest are a 400 (not documented for alerts_v2;
//     Elastic's integration sends $orderby, elastic/integrations PR #20348:
//     a client must not rely on it). Option names are case-sensitive,
//     duplicates and empty values a 400.
//   - $filter: lastUpdateDateTime and createdDateTime (eq ne gt ge lt le,
//     unquoted DateTimeOffset with a time, 0 to 7 fractional digits and Z
//     or ±hh:mm; a bare date or a quoted one is a 400), serviceSource,
//     severity, status, classification, determination (enums, quoted
//     members, case-sensitive, ordered by their numeric values) and
//     assignedTo (string, null allowed); and, or, not, parentheses. Any
//     other property, known or not, is a 400 "Invalid filter clause: ..."
//     (investigationState is a 400, microsoft/zerotrustassessment PR #1414).
//     The evidence/any(...) filters of alertsv1-alertsv2-migration.md are
//     not simulated: a 400 (a known gap).
//   - $top: at most 1000; a larger value is served 1000 alerts, not refused
//     (security-error-codes.md, Constraints: "The $top OData query parameter
//     has a limit of 1000", with a 400 named only for $skip; paging.md allows
//     either; Elastic reads it as "clamped, not rejected",
//     elastic/integrations#20234). A
//     client that asks for more and stops at a short page loses alerts.
//     $top=0 is a 400 ("The minimum value of $top is 1").
//   - Default page size without $top: 100. Not documented; chosen below the
//     maximum so that a client that omits $top must follow @odata.nextLink.
//   - $skip: up to 500, 501 and more a 400 (security-error-codes.md:
//     "$top=10&$skip=500 will return a 200 OK ... $skip=501 will return a
//     400 Bad Request"; written for the legacy /security/alerts, applied to
//     alerts_v2 as Elastic reports 400s from it there,
//     elastic/integrations#20234).
//   - $count=true adds @odata.count (every match, not the page) to every
//     page, since the nextLink keeps $count. @odata.context is on every
//     page.
//   - Order: most recently updated first, alerts updated at the same
//     instant in an opaque order ("The most recent alerts are displayed at
//     the top of the list"; which time is "recent" is not said).
//   - Paging: @odata.nextLink is an absolute URL on the simulator's host
//     with the request's query except $skip, plus an opaque $skiptoken
//     ("The URL also contains all the other query parameters", paging.md).
//     The last page has none. A skiptoken is sealed and bound to its
//     $filter, $top and $count: changed, forged or combined with $skip it is
//     a 400. It holds a position, not an alert: the list is evaluated anew
//     for every page, so while a client pages, an alert that is updated
//     moves to the top (the client sees one alert twice and the update only
//     in its next pass), a new alert shifts everything down (a repeat), and
//     an alert that leaves the filter (updated past an upper bound, or out
//     of a status) shifts everything up (another alert is skipped and, if
//     the client's next window starts after it, never read). A client
//     should use time windows whose results it re-reads until stable, or
//     that fit in one page. GraphTenant.EmptyPages serves pages with no
//     alerts and a nextLink ("A page of results may contain zero or more
//     results", paging.md).
//   - Rate limit: 150 requests a minute per app per tenant
//     (includes/throttling-security-detections-incidents.md, "Any operation
//     on alert"; whether that covers alerts_v2 is implied, not stated), over
//     real time, counting throttled requests; beyond it a 429 with
//     Retry-After and the body of Graph's throttling guide (code
//     TooManyRequests; innerError code and status "429").
//     Options.RateLimits and Server.SetRateLimits change it.
//   - Evolvable enums: members after unknownFutureValue (serviceSource
//     microsoftDefenderForCloud, microsoftSentinel, ...; detectionSource
//     microsoftDefenderForServers, nrtAlerts, ...; evidence
//     remediationStatus pendingApproval, ...) read unknownFutureValue unless
//     the request sends "Prefer: include-unknown-enum-members", which the
//     answer acknowledges with Preference-Applied. In $filter, without the
//     header, naming such a member is a 400 and "eq 'unknownFutureValue'"
//     matches them; with it, unknownFutureValue matches nothing
//     (microsoft/api-guidelines graph/patterns/evolvable-enums.md).
//   - Alert and evidence shape: every property of the documented example,
//     in its order, then productName, alertPolicyId, investigationState,
//     additionalData and customDetails (Graph's v1.0 metadata); nulls are
//     written, collections are never null. Enum members are the metadata's
//     (determination compromisedAccount, notMalicious,
//     notEnoughDataToValidate, confirmedActivity, where the resource page's
//     prose says otherwise). Times are written as .NET writes them, up to 7
//     fractional digits with trailing zeros trimmed ("...50.116Z",
//     "...01.3266667Z"); non-ASCII characters are escaped. Evidence comes in
//     17 types (GraphEvidenceTypes), each with all its documented
//     properties.
//
// Graph is a view over the tenant's other parts plus alerts of its own
// (Server.Graph): each version of an Endpoint or Cloud Apps alert of the
// tenant is a Graph version, visible when it is visible in its part plus
// GraphTenant.SetIndexingDelay.
//
//   - Defender for Endpoint: id = providerAlertId = the MDE id (the
//     documented example's "da637551227677560813_-961444813" for both);
//     lastUpdateDateTime = lastUpdateTime (createdDateTime = alertCreationTime,
//     first/lastActivityDateTime = first/lastEventTime); severity, status,
//     classification, determination and detectionSource mapped
//     (WindowsDefenderAv → antivirus as in the example); evidence: the
//     device, then each MDE evidence item as its Graph type. An MDE version
//     without an incident is not shown: "standalone detections not promoted
//     to an incident aren't returned by the v2 API"
//     (alertsv1-alertsv2-migration.md).
//   - Defender for Cloud Apps: providerAlertId = the _id; id = "ca" and an
//     upper-case name-based GUID (the form of Defender XDR's List incidents
//     example, "caD70CFEE2-1F54-32DB-9988-3A868A1EBFAC", api-list-incidents.md;
//     the migration guide maps the SIEM alert id to Graph's id only as the
//     "nearest equivalent"); how XDR derives the GUID is unknown, so clients
//     must join on providerAlertId. lastUpdateDateTime is the alert's
//     version (docs/messages.md): timestamp while open, resolveTime once closed;
//     marking it read changes nothing Graph shows. Status new (inProgress
//     once handledByUser is set), resolved when closed; incidentId is
//     invented.
//   - Graph-only (GraphTenant.Generate, Put, Update, UpdateRandom):
//     Defender for Identity, for Office 365 (id "fa" and a GUID, as in the
//     XDR example), for Cloud, Entra ID Protection, app governance, DLP,
//     Defender XDR and Sentinel alerts. Their id forms other than Office
//     365's are invented ("aa", "dc", "ad", "ag", "dl", "ra", "sn"
//     prefixes).
//
// GraphTenant.Versions lists every version Graph shows or will show, the
// view's included; Latest, Fail, SetFaultRates and the request log
// (APIRequests, API "graph", with the token's app and uti) work as in the
// other parts. Unknown, besides the above: the default order's exact key,
// the skiptoken's lifetime (here: forever), how Graph's index lags behind
// the products (no documented bound), and whether Graph's lastUpdateDateTime
// of a Cloud Apps alert moves on other changes.
//
// Microsoft Graph's security incidents, GET /v1.0/security/incidents and
// /v1.0/security/incidents/{id} (package graph, a part of its own: API name
// "incidents"), follow learn.microsoft.com/graph/api/security-list-incidents
// and resources/security-incident. Tokens are Graph's, with
// SecurityIncident.Read.All or .ReadWrite.All (else a 403 as alerts_v2's);
// errors, headers, evolvable enums (status awaitingAction) and skiptokens
// are alerts_v2's. Decisions:
//
//   - Incidents (Server.Incidents) group the tenant's Graph-only alerts: an
//     incident's alerts have its id as incidentId, and $expand=alerts shows
//     their newest visible versions exactly as alerts_v2 serves them. Every
//     change (Update, AddAlert(s), Merge, UpdateRandom) is a new version
//     with a strictly later lastUpdateDateTime; Merge redirects one incident
//     into another and moves its alerts (new alert versions).
//   - Query options: $count, $filter (assignedTo, classification,
//     createdDateTime, determination, lastUpdateDateTime, severity, status,
//     with alerts_v2's rules), $skip, $top (clamped to 50, the page cap
//     apis.Incidents records), $expand=alerts only; default page 20
//     (undocumented; below the cap so a client must follow
//     @odata.nextLink). Get incident takes $expand only; an unknown id is a
//     404 itemNotFound.
//   - Order: newest createdDateTime first ("The most recent incidents are
//     displayed at the top of the list"), evaluated anew for each page.
//   - Wire form: Microsoft's two List incidents examples disagree (PascalCase
//     enums with customTags; lower camel case with "tags"); a seeded share
//     of incidents (IncidentsTenant.SetStyleShare, default 10%) is written in
//     one of them. Times have 7 fractional digits, as in the examples.
//   - The failure of elastic/integrations#18144 and #18277: a list with
//     $expand=alerts and $filter whose page holds an incident with more
//     alerts than the tenant's expand limit (SetExpandLimit, default 100)
//     answers 500 generalException, every time; without $expand, or for
//     the one incident, it works.
//   - Rate limit 150 a minute per app per tenant (apis.Incidents), apart
//     from alerts_v2's; faults and the request log as in the other parts.
//
// Every answer, of the token endpoint and of each API, carries a Date header
// on the simulator's clock (Options.Now), as Microsoft's services stamp
// theirs with their own clock; SetDateHeader injects a wrong or missing one.
//
// Everything is safe for concurrent use.
package sim
