// Package sinks will hold the publishers (sinks/jetstream, sinks/core): they take a batch of
// envelopes and return once every one is durably accepted (ARCHITECTURE.md).
package sinks
