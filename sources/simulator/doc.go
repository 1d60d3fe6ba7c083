// Package simulator is a local, faithful stand-in for the Microsoft cloud
// services alertexport talks to: Microsoft Entra ID (the login endpoints MSAL
// Go calls for the client-credentials flow), the Microsoft Defender for
// Endpoint alerts API and the Microsoft Defender for Cloud Apps alerts API.
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
// The behaviour follows what Microsoft documents and what was measured against
// MSAL Go v1.10.1; see shared/research/libs.md (sections 1.4 to 1.6: the
// exact requests MSAL sends and what it validates in the answers) and
// shared/research/defender-apis.md (parts A1 and B1: resources and
// audiences). Where Entra's answer is not documented, the choice made is
// written next to the code that makes it (see aadsts.go for the error codes).
// The simulator is deliberately strict: a request that Entra would refuse is
// refused here too, with Entra's status, OAuth error and AADSTS code, so that
// a client that only works against the simulator does not exist.
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
// /api/alerts and /api/v1.0/alerts) follows defender-apis.md part A and
// the pitfalls of part D (endpoint*.go). Requests need a token of the
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
// POST /api/v1/alerts/) follows defender-apis.md part B (cloudapps*.go).
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
// Everything is safe for concurrent use.
package simulator
