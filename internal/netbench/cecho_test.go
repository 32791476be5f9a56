//go:build linux

package netbench_test

import (
	"testing"

	"github.com/goaio/uring/internal/cbench"
)

func init() { cbench.RegisterServers() }

// BenchmarkEchoCClient: TCP echo, 1,000 connections of 128-byte ping-pong
// driven by the C client (one thread, epoll: a light load generator, so the
// servers' CPU per round trip compares), against std's server, ours, and
// the two C servers, each in its own process; 3 rounds, the sides
// alternating; medians. The figures issue 26's loop is measured against
// (stacks.BenchmarkEchoGnetCClient adds gnet).
func BenchmarkEchoCClient(b *testing.B) {
	requireRing(b)
	roles := []string{"std-echo", "uring-echo", "c-epoll-echo", "c-uring-echo"}
	res, err := cbench.CompareEcho(roles, 1000, 128, 3, benchTime(b)/2)
	if err != nil {
		b.Fatal(err)
	}
	std := res["std-echo"]
	for _, role := range roles {
		r := res[role]
		b.Logf("%-13s %8.0f rt/s (%.2fx std)  server CPU %6.2f µs/rt (%.2fx std)", role, r.Rate, r.Rate/std.Rate,
			r.CPUPer/1e3, r.CPUPer/std.CPUPer)
	}
	b.ReportMetric(res["uring-echo"].Rate/std.Rate, "xSTD")
	b.ReportMetric(res["uring-echo"].CPUPer/std.CPUPer, "cpu/rt-xSTD")
	b.ReportMetric(res["c-uring-echo"].CPUPer/std.CPUPer, "c-uring-cpu/rt-xSTD")
	b.ReportMetric(res["c-epoll-echo"].CPUPer/std.CPUPer, "c-epoll-cpu/rt-xSTD")
}
