// Package netbench holds the benchmarks of package net against std net, with
// the server in a child process (the test binary re-executed) and the load
// from the benchmark process: the ring server and the std server see the same
// client, and the server's CPU and memory are measured alone.
//
// BenchmarkLatencyUnderLoad is the exception: its client and server are both
// in the benchmark process, beside goroutines that keep every P busy, since
// what it measures is how fast each stack's completions get through a
// saturated scheduler.
package netbench
