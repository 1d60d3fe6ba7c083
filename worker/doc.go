// Package worker will schedule one job per enabled (tenant, source) on robfig/cron in UTC, hold
// each job's lease, and run the poll → publish → checkpoint loop: a checkpoint moves only after
// the sink confirmed every message of the poll. The schedules it runs are parsed and validated by
// package config (config.Source.Cron).
package worker
