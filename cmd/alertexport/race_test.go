//go:build race

package main

// raceBuild: the binary the process tests run is built with -race too (and so reuses the
// packages this test binary compiled).
const raceBuild = true
