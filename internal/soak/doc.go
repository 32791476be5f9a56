// Package soak holds the soak test (TestSoak): a mixed workload on a
// private Ring (file reads and writes through fs, echo and net/http traffic
// over loopback through net) with random cancels, deadlines and Closes under
// in-flight I/O, which checks that descriptors, goroutines, in-flight
// requests and memory come back to where they started.
//
// It runs only when SOAK is set to a duration:
//
//	SOAK=60s go test -count=1 -v -run '^TestSoak$' ./internal/soak
//	make soak            # SOAK=10m by default
package soak
