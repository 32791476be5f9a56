//go:build linux

package netbench_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
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

// echoLoad runs conns connections doing 128-byte round trips for d and
// returns the round trips done.
func echoLoad(tb testing.TB, addr string, conns int, d time.Duration) uint64 {
	cs := make([]net.Conn, conns)
	for i := range cs {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			tb.Fatalf("dial %d: %v", i, err)
		}
		cs[i] = c
	}
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	var total atomic.Uint64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := bytes.Repeat([]byte{'x'}, 128)
			in := make([]byte, 128)
			n := uint64(0)
			for time.Now().Before(stop) {
				if _, err := c.Write(msg); err != nil {
					break
				}
				if _, err := io.ReadFull(c, in); err != nil {
					break
				}
				n++
			}
			total.Add(n)
		}()
	}
	wg.Wait()
	return total.Load()
}

type sideResult struct {
	name    string
	rate    float64       // operations per second
	cpuPer  time.Duration // server CPU per operation
	threads int
	csPer   float64 // server context switches per operation
}

func (r sideResult) String() string {
	return fmt.Sprintf("%-6s %12.0f ops/s  server CPU %8v/op  %.2f context switches/op  %d threads",
		r.name, r.rate, r.cpuPer, r.csPer, r.threads)
}

// BenchmarkNetEcho: 1,000 connections doing 128-byte ping-pong against a
// server on std net and one on this package, alternating rounds.
func BenchmarkNetEcho(b *testing.B) {
	requireRing(b)
	d := benchTime(b)
	res := map[string]*sideResult{}
	for round := 0; round < 2; round++ {
		for _, side := range []string{"std", "uring"} {
			s := startServer(b, side+"-echo")
			echoLoad(b, s.Addr, 1000, d/10) // warm-up: connections, stacks
			c0, s0 := s.CPU(), s.Switches()
			t0 := time.Now()
			n := echoLoad(b, s.Addr, 1000, d/2)
			el := time.Since(t0)
			cpu, cs := s.CPU()-c0, s.Switches()-s0
			th := s.Threads()
			s.Stop()
			r := res[side]
			if r == nil {
				r = &sideResult{name: side}
				res[side] = r
			}
			r.rate += float64(n) / el.Seconds() / 2
			r.cpuPer += cpu / time.Duration(max(n, 1)) / 2
			r.threads = max(r.threads, th)
			r.csPer += float64(cs) / float64(max(n, 1)) / 2
		}
	}
	b.Log(res["std"].String())
	b.Log(res["uring"].String())
	b.ReportMetric(res["uring"].rate, "rt/s")
	b.ReportMetric(res["std"].rate, "std-rt/s")
	b.ReportMetric(res["uring"].rate/res["std"].rate, "xSTD")
	b.ReportMetric(float64(res["uring"].cpuPer)/float64(res["std"].cpuPer), "cpu/rt-xSTD")
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
// server; the figure is the server's resident memory.
func BenchmarkNetIdleRSS(b *testing.B) {
	requireRing(b)
	const conns = 10000
	rss := map[string]int64{}
	for _, side := range []string{"std", "uring"} {
		s := startServer(b, side+"-echo")
		base := s.RSSKiB()
		cs := make([]net.Conn, 0, conns)
		for i := 0; i < conns; i++ {
			c, err := net.Dial("tcp", s.Addr)
			if err != nil {
				b.Fatalf("dial %d: %v", i, err)
			}
			cs = append(cs, c)
		}
		// Every connection echoes once, so the server has accepted it and
		// parked a Read on it.
		for _, c := range cs {
			if _, err := c.Write([]byte{1}); err != nil {
				b.Fatal(err)
			}
		}
		one := make([]byte, 1)
		for _, c := range cs {
			if _, err := io.ReadFull(c, one); err != nil {
				b.Fatal(err)
			}
		}
		time.Sleep(500 * time.Millisecond)
		rss[side] = s.RSSKiB()
		if os.Getenv("URING_LOOPBACK_MEMSTATS") != "" {
			_ = s.Signal(syscall.SIGUSR1) // the server's runtime memory, with the connections open
			time.Sleep(100 * time.Millisecond)
		}
		b.Logf("%s: RSS %d KiB with %d idle connections (%d KiB at start), %d threads", side, rss[side], conns, base, s.Threads())
		for _, c := range cs {
			c.Close()
		}
		s.Stop()
	}
	b.ReportMetric(float64(rss["uring"]), "KiB")
	b.ReportMetric(float64(rss["std"]), "std-KiB")
	b.ReportMetric(float64(rss["uring"])/float64(rss["std"]), "xSTD")
}
