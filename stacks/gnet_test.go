//go:build linux

package stacks

import (
	"fmt"
	"log"
	"os"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/internal/cbench"
	"github.com/goaio/uring/internal/loopback"
)

// gnet is the anchor of issue 13's echo figure: an epoll event loop per
// core, what Go services pick today when std net is not fast enough. It
// binds its own socket, so it runs as an OwnListener role.
func init() {
	cbench.RegisterServers() // c-epoll-echo, c-uring-echo
	loopback.OwnListener["gnet-echo"] = func(listening func(addr string)) error {
		return gnet.Run(&gnetEcho{listening: listening}, "tcp://127.0.0.1:0",
			gnet.WithMulticore(true), gnet.WithLogger(stderrLogger{log.New(os.Stderr, "gnet: ", 0)}))
	}
}

// gnetEcho echoes what each connection sends, as loopback.ServeEcho does.
type gnetEcho struct {
	gnet.BuiltinEventEngine
	listening func(addr string)
}

// OnBoot reports the port the kernel picked.
func (e *gnetEcho) OnBoot(eng gnet.Engine) gnet.Action {
	fd, err := eng.Dup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gnet: dup listener:", err)
		return gnet.Shutdown
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	in4, ok := sa.(*unix.SockaddrInet4)
	if err != nil || !ok {
		fmt.Fprintln(os.Stderr, "gnet: listener address:", sa, err)
		return gnet.Shutdown
	}
	e.listening(fmt.Sprintf("127.0.0.1:%d", in4.Port))
	return gnet.None
}

func (e *gnetEcho) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	if _, err := c.Write(buf); err != nil {
		return gnet.Close
	}
	return gnet.None
}

// stderrLogger keeps gnet's log off stdout, where the child's first line
// is its address, and drops its chatter below warnings.
type stderrLogger struct{ *log.Logger }

func (stderrLogger) Debugf(string, ...any) {}
func (stderrLogger) Infof(string, ...any)  {}
func (l stderrLogger) Warnf(f string, a ...any) {
	l.Printf(f, a...)
}
func (l stderrLogger) Errorf(f string, a ...any) { l.Printf(f, a...) }
func (l stderrLogger) Fatalf(f string, a ...any) { l.Logger.Fatalf(f, a...) }

// TestGnetEchoChild: the gnet role starts as a child and echoes every byte
// intact, so the benchmark below measures a working server.
func TestGnetEchoChild(t *testing.T) {
	s, err := loopback.StartChild("gnet-echo")
	require.NoError(t, err)
	n, err := loopback.EchoLoad(s.Addr, 20, 200*time.Millisecond)
	require.NoError(t, err)
	require.Positive(t, n)
	require.NoError(t, s.Stop())
}

// BenchmarkEchoGnet: issue 13's echo figure with gnet in the same run: 1,000
// connections doing 128-byte ping-pong against echo servers on std net, on
// this module's net and on gnet, each in a child process, two rounds
// alternating, 3 s each (URING_BENCH_TIME overrides).
func BenchmarkEchoGnet(b *testing.B) {
	if err := uring.Available(); err != nil {
		b.Skipf("io_uring unavailable here: %v", err)
	}
	d := benchTime(b)
	roles := []string{"std-echo", "uring-echo", "gnet-echo"}
	res, err := loopback.CompareEcho(roles, 1000, 2, d)
	require.NoError(b, err)
	for _, role := range roles {
		b.Log(res[role])
	}
	std := res["std-echo"]
	for _, side := range []struct{ role, unit string }{{"uring-echo", ""}, {"gnet-echo", "gnet-"}} {
		r := res[side.role]
		b.ReportMetric(r.Rate/std.Rate, side.unit+"xSTD")
		b.ReportMetric(float64(r.CPUPer)/float64(std.CPUPer), side.unit+"cpu/rt-xSTD")
	}
}

// BenchmarkEchoGnetCClient: the echo of BenchmarkEchoGnet driven by the light
// C client (internal/cbench), so the servers' CPU per round trip compares:
// std net, this module's net, gnet, the C loop owning its io_uring, and
// package loop, which issue 26 measures against gnet and the C loop; 3
// rounds alternating, medians.
func BenchmarkEchoGnetCClient(b *testing.B) {
	if err := uring.Available(); err != nil {
		b.Skipf("io_uring unavailable here: %v", err)
	}
	d := benchTime(b)
	roles := []string{"std-echo", "uring-echo", "gnet-echo", "c-uring-echo", "loop-echo"}
	res, err := cbench.CompareEcho(roles, 1000, 128, 3, d)
	require.NoError(b, err)
	std := res["std-echo"]
	for _, role := range roles {
		r := res[role]
		b.Logf("%-13s %8.0f rt/s (%.2fx std)  server CPU %6.2f µs/rt (%.2fx std)", role, r.Rate, r.Rate/std.Rate,
			r.CPUPer/1e3, r.CPUPer/std.CPUPer)
	}
	g := res["gnet-echo"]
	b.ReportMetric(g.Rate/std.Rate, "gnet-xSTD")
	b.ReportMetric(g.CPUPer/std.CPUPer, "gnet-cpu/rt-xSTD")
	b.ReportMetric(res["c-uring-echo"].CPUPer/g.CPUPer, "c-uring-cpu/rt-xGNET")
	b.ReportMetric(res["uring-echo"].CPUPer/g.CPUPer, "cpu/rt-xGNET")
	lp, c := res["loop-echo"], res["c-uring-echo"]
	b.ReportMetric(lp.Rate/g.Rate, "loop-xGNET")
	b.ReportMetric(lp.CPUPer/g.CPUPer, "loop-cpu/rt-xGNET")
	b.ReportMetric(lp.CPUPer/c.CPUPer, "loop-cpu/rt-xC")
}

// BenchmarkEchoFloodGnet: internal/netbench's BenchmarkEchoFlood with gnet
// beside std's server and ours: 8 connections write and never read for 6 s
// beside 100 echo connections. gnet has no back-pressure: what it cannot
// send back it buffers. Package loop stops receiving from a connection
// whose unsent bytes pass its high-water mark.
func BenchmarkEchoFloodGnet(b *testing.B) {
	if err := uring.Available(); err != nil {
		b.Skipf("io_uring unavailable here: %v", err)
	}
	for _, role := range []string{"std-echo", "uring-echo", "gnet-echo", "loop-echo"} {
		s, err := loopback.StartChild(role)
		require.NoError(b, err)
		r, err := loopback.FloodEcho(s, 8, 100, 6*time.Second)
		s.Stop()
		require.NoError(b, err, role)
		b.Logf("%-10s RSS +%d MiB while the floods pushed %d MiB; echo %.0f rt/s alone, %.0f beside them (%.2f)",
			role, r.GrowthKiB>>10, r.Flooded>>20, r.Rate, r.FloodRate, r.FloodRate/r.Rate)
		if unit, ok := map[string]string{"gnet-echo": "gnet-", "loop-echo": "loop-"}[role]; ok {
			b.ReportMetric(float64(r.GrowthKiB)/1024, unit+"growth-MiB")
			b.ReportMetric(r.FloodRate/r.Rate, unit+"rt-kept")
		}
	}
}

// benchTime is a side's measuring time: 3 s, or URING_BENCH_TIME.
func benchTime(b *testing.B) time.Duration {
	if s := os.Getenv("URING_BENCH_TIME"); s != "" {
		d, err := time.ParseDuration(s)
		require.NoError(b, err, "URING_BENCH_TIME")
		return d
	}
	return 3 * time.Second
}

// BenchmarkIdleGnet: 10,000 idle echo connections (each echoed one byte)
// held open against gnet's server, package loop's and std's, 3 rounds
// alternating; medians of the server's resident memory.
func BenchmarkIdleGnet(b *testing.B) {
	if err := uring.Available(); err != nil {
		b.Skipf("io_uring unavailable here: %v", err)
	}
	const conns = 10000
	roles := []string{"std-echo", "gnet-echo", "loop-echo"}
	rss, rss0 := map[string][]float64{}, map[string][]float64{}
	for round := range 3 {
		order := append([]string(nil), roles...)
		if round%2 == 1 {
			order = []string{"loop-echo", "gnet-echo", "std-echo"}
		}
		for _, role := range order {
			s, err := loopback.StartChild(role)
			require.NoError(b, err)
			f, err := loopback.IdleConns(s, conns)
			s.Stop()
			require.NoError(b, err, role)
			rss[role] = append(rss[role], float64(f.RSSKiB))
			rss0[role] = append(rss0[role], float64(f.RSS0KiB))
		}
	}
	g := loopback.Median(rss["gnet-echo"])
	for _, role := range roles {
		m := loopback.Median(rss[role])
		b.Logf("%-10s RSS %6.1f MiB with %d idle connections (%.2fx gnet), %5.1f MiB before them", role, m/1024,
			conns, m/g, loopback.Median(rss0[role])/1024)
	}
	b.ReportMetric(loopback.Median(rss["loop-echo"])/g, "loop-rss-xGNET")
	b.ReportMetric(g/1024, "gnet-MiB")
}
