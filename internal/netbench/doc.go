// Package netbench holds the benchmarks of package net against std net, with
// the server in a child process (the test binary re-executed) and the load
// from the benchmark process: the ring server and the std server see the same
// client, and the server's CPU and memory are measured alone.
package netbench
