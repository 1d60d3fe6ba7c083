// Package cloudapps is the simulator's Defender for Cloud Apps alerts API
// (POST and GET /api/v1/alerts/): per tenant, an alert store with revisions
// and late indexing, a seeded generator, legacy API tokens, and the API's
// filters, sorting, errors, rate limits and faults through the simapi
// pipeline. Package sim mounts it.
package cloudapps
