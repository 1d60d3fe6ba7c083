// Package endpoint is the simulator's Microsoft Defender for Endpoint alerts
// API (GET /api/alerts): per tenant, an alert store with versions and late
// indexing, a seeded generator, and the API's OData query options, errors,
// rate limits and faults through the simapi pipeline. Package sim mounts it.
package endpoint
