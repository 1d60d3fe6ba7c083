// Package graph is the simulator's Microsoft Graph security alerts_v2
// (GET /v1.0/security/alerts_v2): per tenant, Graph's own alerts plus a view
// of the tenant's Endpoint and Cloud Apps alerts (packages endpoint and
// cloudapps), with Graph's query options, skip tokens, errors, rate limits
// and faults through the simapi pipeline. Package sim mounts it.
package graph
