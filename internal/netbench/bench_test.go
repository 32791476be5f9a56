//go:build linux

package netbench_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goaio/uring"
	"github.com/goaio/uring/internal/loopback"
	unet "github.com/goaio/uring/net"
)

// Environment:
//
//	URING_BENCH_TIME   measurement time per side (default 2s; the issue's
//	                   figures use 10s)
//	NETBENCH_CPUPROFILE  a file for the ring server's CPU profile
//	NETBENCH_SERVER    set in the child: which server to run
//	                   ("uring" or "std", "-echo" or "-http")

func TestMain(m *testing.M) {
	if role := os.Getenv("NETBENCH_SERVER"); role != "" {
		serve(role)
		return
	}
	os.Exit(m.Run())
}

// serve runs a server until its stdin closes, after printing its address.
func serve(role string) {
	listen := net.Listen
	if strings.HasPrefix(role, "uring") {
		listen = unet.Listen
	}
	ln, err := listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	if _, ours := ln.(*unet.TCPListener); strings.HasPrefix(role, "uring") && !ours {
		fmt.Println("error: io_uring unavailable")
		os.Exit(1)
	}
	fmt.Println(ln.Addr())
	if p := os.Getenv("NETBENCH_CPUPROFILE"); p != "" && strings.HasPrefix(role, "uring") {
		if f, err := os.Create(p); err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile() // for the error paths; the normal end is below
		}
	}
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		pprof.StopCPUProfile()
		if os.Getenv("NETBENCH_MEMSTATS") != "" {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Fprintf(os.Stderr, "%s: stacks %d KiB, heap in use %d KiB, other sys %d KiB, goroutines %d\n",
				role, ms.StackInuse>>10, ms.HeapInuse>>10, (ms.Sys-ms.HeapSys-ms.StackSys)>>10, runtime.NumGoroutine())
		}
		os.Exit(0)
	}()
	if strings.HasSuffix(role, "-http") {
		_ = http.Serve(ln, loopback.Hello)
		return
	}
	_ = loopback.ServeEcho(ln)
}

type server struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
}

func startServer(tb testing.TB, role string) *server {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "NETBENCH_SERVER="+role)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	line = strings.TrimSpace(line)
	if err != nil || strings.HasPrefix(line, "error") {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		tb.Fatalf("server %s: %q %v", role, line, err)
	}
	s := &server{cmd: cmd, stdin: stdin, addr: line}
	tb.Cleanup(s.stop)
	return s
}

func (s *server) stop() {
	if s.stdin != nil {
		s.stdin.Close()
		s.stdin = nil
		_ = s.cmd.Wait()
	}
}

// cpu returns the server's user+system CPU time so far.
func (s *server) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100) // USER_HZ
}

// rssKiB returns the server's resident set size.
func (s *server) rssKiB() int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return v
}

// switches returns the context switches of all the server's threads.
func (s *server) switches() int64 {
	dirs, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", s.cmd.Process.Pid))
	var n int64
	re := regexp.MustCompile(`(?m)^(?:non)?voluntary_ctxt_switches:\s+(\d+)`)
	for _, d := range dirs {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", s.cmd.Process.Pid, d.Name()))
		for _, m := range re.FindAllSubmatch(b, -1) {
			v, _ := strconv.ParseInt(string(m[1]), 10, 64)
			n += v
		}
	}
	return n
}

func (s *server) threads() int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	m := regexp.MustCompile(`Threads:\s+(\d+)`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	v, _ := strconv.Atoi(string(m[1]))
	return v
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
			echoLoad(b, s.addr, 1000, d/10) // warm-up: connections, stacks
			c0, s0 := s.cpu(), s.switches()
			t0 := time.Now()
			n := echoLoad(b, s.addr, 1000, d/2)
			el := time.Since(t0)
			cpu, cs := s.cpu()-c0, s.switches()-s0
			th := s.threads()
			s.stop()
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
				"http://"+s.addr+"/").CombinedOutput()
			s.stop()
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
		base := s.rssKiB()
		cs := make([]net.Conn, 0, conns)
		for i := 0; i < conns; i++ {
			c, err := net.Dial("tcp", s.addr)
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
		rss[side] = s.rssKiB()
		b.Logf("%s: RSS %d KiB with %d idle connections (%d KiB at start), %d threads", side, rss[side], conns, base, s.threads())
		for _, c := range cs {
			c.Close()
		}
		s.stop()
	}
	b.ReportMetric(float64(rss["uring"]), "KiB")
	b.ReportMetric(float64(rss["std"]), "std-KiB")
	b.ReportMetric(float64(rss["uring"])/float64(rss["std"]), "xSTD")
}
