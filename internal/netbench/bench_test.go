//go:build linux

package netbench_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/goaio/uring"
	"github.com/goaio/uring/internal/loopback"
)

// Environment:
//
//	URING_BENCH_TIME           measurement time per side (default 2s; the
//	                           issue's figures use 10s)
//	URING_LOOPBACK_CPUPROFILE  P: the servers' CPU profiles go to P.<role>
//	URING_LOOPBACK_MEMSTATS    set: the servers print their runtime memory
//
// The servers are internal/loopback's children: this test binary,
// re-executed.

func TestMain(m *testing.M) {
	loopback.ServeIfChild()
	os.Exit(m.Run())
}

// startServer starts role's server in a child process, stopped at the end
// of the benchmark if it is still running.
func startServer(tb testing.TB, role string) *loopback.Child {
	tb.Helper()
	s, err := loopback.StartChild(role)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Stop() })
	return s
}

func benchTime(tb testing.TB) time.Duration {
	if s := os.Getenv("URING_BENCH_TIME"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			tb.Fatalf("URING_BENCH_TIME=%q", s)
		}
		return d
	}
	return 2 * time.Second
}

func requireRing(tb testing.TB) {
	if err := uring.Available(); err != nil {
		if os.Getenv("URING_REQUIRE") == "1" {
			tb.Fatalf("io_uring required: %v", err)
		}
		tb.Skipf("io_uring unavailable: %v", err)
	}
}

// BenchmarkNetEcho: 1,000 connections doing 128-byte ping-pong against a
// server on std net and one on this package, alternating rounds
// (stacks.BenchmarkEchoGnet adds gnet to the same run).
func BenchmarkNetEcho(b *testing.B) {
	requireRing(b)
	res, err := loopback.CompareEcho([]string{"std-echo", "uring-echo"}, 1000, 2, benchTime(b)/2)
	if err != nil {
		b.Fatal(err)
	}
	std, ours := res["std-echo"], res["uring-echo"]
	b.Log(std)
	b.Log(ours)
	b.ReportMetric(ours.Rate, "rt/s")
	b.ReportMetric(std.Rate, "std-rt/s")
	b.ReportMetric(ours.Rate/std.Rate, "xSTD")
	b.ReportMetric(float64(ours.CPUPer)/float64(std.CPUPer), "cpu/rt-xSTD")
}

// BenchmarkNetHTTP: wrk with 256 connections against net/http serving
// "hello" on std's listener and on this package's.
func BenchmarkNetHTTP(b *testing.B) {
	requireRing(b)
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("wrk not installed (make bench installs it): ", err)
	}
	d := benchTime(b)
	rate := map[string]float64{}
	for round := 0; round < 2; round++ {
		for _, side := range []string{"std", "uring"} {
			s := startServer(b, side+"-http")
			out, err := exec.Command(wrk, "-t2", "-c256", fmt.Sprintf("-d%ds", max(1, int(d.Seconds()/2))),
				"http://"+s.Addr+"/").CombinedOutput()
			s.Stop()
			if err != nil {
				b.Fatalf("wrk: %v\n%s", err, out)
			}
			m := regexp.MustCompile(`Requests/sec:\s+([\d.]+)`).FindSubmatch(out)
			if m == nil {
				b.Fatalf("wrk output: %s", out)
			}
			v, _ := strconv.ParseFloat(string(m[1]), 64)
			if bytes.Contains(out, []byte("Non-2xx")) || bytes.Contains(out, []byte("Socket errors")) {
				b.Logf("%s: wrk reported errors:\n%s", side, out)
			}
			rate[side] += v / 2
		}
	}
	b.Logf("std %.0f req/s, uring %.0f req/s", rate["std"], rate["uring"])
	b.ReportMetric(rate["uring"], "req/s")
	b.ReportMetric(rate["std"], "std-req/s")
	b.ReportMetric(rate["uring"]/rate["std"], "xSTD")
}

// BenchmarkNetIdleRSS: 10,000 idle connections held open against each
// server, 3 rounds alternating std, uring then uring, std; the figures are
// the medians of the server's resident memory, and its live heap and heap
// objects per connection after a GC (their growth over the server's own
// before any connection, divided by the connections).
func BenchmarkNetIdleRSS(b *testing.B) {
	requireRing(b)
	const conns = 10000
	type figures struct{ rss, heap, objs []float64 }
	res := map[string]*figures{"std": {}, "uring": {}}
	for round := range 3 {
		sides := []string{"std", "uring"}
		if round%2 == 1 {
			sides = []string{"uring", "std"}
		}
		for _, side := range sides {
			f := res[side]
			rss, heap, objs := idleConns(b, side, conns)
			f.rss, f.heap, f.objs = append(f.rss, rss), append(f.heap, heap), append(f.objs, objs)
		}
	}
	med := loopback.Median
	for _, side := range []string{"std", "uring"} {
		f := res[side]
		b.Logf("%-5s RSS %6.0f KiB (rounds %v)  live heap %5.0f B/conn  %4.1f objects/conn",
			side, med(f.rss), fmtRates(f.rss), med(f.heap), med(f.objs))
	}
	std, ours := res["std"], res["uring"]
	b.ReportMetric(med(ours.rss), "KiB")
	b.ReportMetric(med(std.rss), "std-KiB")
	b.ReportMetric(med(ours.rss)/med(std.rss), "xSTD")
	b.ReportMetric(med(ours.heap), "heap-B/conn")
	b.ReportMetric(med(std.heap), "std-heap-B/conn")
	b.ReportMetric(med(ours.objs), "objs/conn")
	b.ReportMetric(med(std.objs), "std-objs/conn")
}

// idleConns holds conns idle connections against side's echo server, each
// having echoed once (so the server accepted it and parked a Read on it),
// and returns the server's RSS, and its live heap and objects per
// connection.
func idleConns(b *testing.B, side string, conns int) (rssKiB, heapPer, objsPer float64) {
	s := startServer(b, side+"-echo")
	defer s.Stop()
	f, err := loopback.IdleConns(s, conns)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: RSS %d KiB with %d idle connections (%d KiB before them), %d goroutines, %d threads",
		side, f.RSSKiB, conns, f.RSS0KiB, f.Goroutines, f.Threads)
	return float64(f.RSSKiB), f.HeapPer, f.ObjsPer
}

// BenchmarkPacketEcho: the datagram echo (loopback.PacketReaders goroutines
// reading one socket, 64 clients of 128 B in ping-pong), on UDP and
// unixgram, std's ListenPacket against ours, 3 rounds alternating A B, B A,
// A B; the figures are medians over the rounds.
func BenchmarkPacketEcho(b *testing.B) {
	requireRing(b)
	for _, network := range []string{"udp", "unixgram"} {
		b.Run(network, func(b *testing.B) {
			kind := map[string]string{"udp": "udpecho", "unixgram": "unixgramecho"}[network]
			sides := []loopback.Side{{Name: "std", Role: "std-" + kind}, {Name: "uring", Role: "uring-" + kind}}
			res, err := loopback.ComparePacketEcho(network, sides, 64, 3, benchTime(b))
			if err != nil {
				b.Fatal(err)
			}
			std := res["std"]
			for _, s := range sides {
				r := res[s.Name]
				b.Logf("%-10s rate %8.0f rt/s (%.2fx std; rounds %v)  server CPU %v/rt (%.2fx std)  lost %d  threads %d",
					s.Name, r.Rate, r.Rate/std.Rate, fmtRates(r.Rates), r.CPUPer, float64(r.CPUPer)/float64(std.CPUPer), r.Lost, r.Threads)
			}
			ours := res["uring"]
			b.ReportMetric(ours.Rate, "rt/s")
			b.ReportMetric(ours.Rate/std.Rate, "xSTD")
			b.ReportMetric(float64(ours.CPUPer)/float64(std.CPUPer), "cpu/rt-xSTD")
		})
	}
}

func fmtRates(xs []float64) string {
	s := ""
	for i, x := range xs {
		if i > 0 {
			s += " "
		}
		s += strconv.FormatFloat(x, 'f', 0, 64)
	}
	return s
}

// BenchmarkEchoFlood: back-pressure (issue 26's bar: at most 48 MiB of
// growth, at least 25% of the round trips kept): 8 connections write and
// never read for 6 s beside 100 echo connections, against std's server and
// ours (stacks adds gnet).
func BenchmarkEchoFlood(b *testing.B) {
	requireRing(b)
	for _, role := range []string{"std-echo", "uring-echo"} {
		s := startServer(b, role)
		r, err := loopback.FloodEcho(s, 8, 100, 6*time.Second)
		s.Stop()
		if err != nil {
			b.Fatalf("%s: %v", role, err)
		}
		b.Logf("%-10s RSS +%d KiB while the floods pushed %d MiB; echo %.0f rt/s alone, %.0f beside them (%.2f)",
			role, r.GrowthKiB, r.Flooded>>20, r.Rate, r.FloodRate, r.FloodRate/r.Rate)
		if role == "uring-echo" {
			b.ReportMetric(float64(r.GrowthKiB)/1024, "growth-MiB")
			b.ReportMetric(r.FloodRate/r.Rate, "rt-kept")
		}
	}
}
