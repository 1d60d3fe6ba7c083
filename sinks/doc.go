// Package sinks will hold the publishers (sinks/jetstream, sinks/core): each takes a batch of
// envelopes and returns once every one is durably accepted, or says which failed.
package sinks
