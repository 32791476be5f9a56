//go:build linux

package netbench_test

import (
	"fmt"
	"net/netip"
	"syscall"
	"testing"

	"github.com/goaio/uring/internal/cbench"
	"github.com/goaio/uring/internal/loopback"
)

// The C echo servers (internal/cbench/echo.h) as children, beside std's and
// ours: "c-epoll-echo", an epoll loop; "c-uring-echo", a loop owning its
// io_uring (SINGLE_ISSUER, DEFER_TASKRUN, multishot accept and recv into a
// provided-buffer ring): the design the event loop of issue 26 takes, in C.
func init() {
	for _, kind := range []string{"epoll", "uring"} {
		loopback.OwnListener["c-"+kind+"-echo"] = func(listening func(addr string)) error {
			lfd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			if err := syscall.Bind(lfd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
				return err
			}
			if err := syscall.Listen(lfd, 4096); err != nil {
				return err
			}
			sa, err := syscall.Getsockname(lfd)
			if err != nil {
				return err
			}
			var never [2]int // the server runs until the child exits
			if err := syscall.Pipe2(never[:], syscall.O_CLOEXEC); err != nil {
				return err
			}
			listening(fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port))
			return cbench.ServeEcho(kind, lfd, never[0])
		}
	}
}

// BenchmarkEchoCClient: TCP echo, 1,000 connections of 128-byte ping-pong
// driven by the C client (one thread, epoll: a light load generator, so the
// servers' CPU per round trip compares), against std's server, ours, and
// the two C servers, each in its own process; 3 rounds, the sides
// alternating; medians. The figures issue 26's loop is measured against.
func BenchmarkEchoCClient(b *testing.B) {
	requireRing(b)
	roles := []string{"std-echo", "uring-echo", "c-epoll-echo", "c-uring-echo"}

	d := benchTime(b) / 2
	rates, cpus := map[string][]float64{}, map[string][]float64{}
	for round := range 3 {
		order := roles
		if round%2 == 1 {
			order = []string{roles[3], roles[2], roles[1], roles[0]}
		}
		for _, role := range order {
			s := startServer(b, role)
			addr, err := netip.ParseAddrPort(s.Addr)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := cbench.EchoClient(addr, 1000, 128, d/5); err != nil { // warm-up
				b.Fatalf("%s: %v", role, err)
			}
			c0 := s.CPU()
			r, err := cbench.EchoClient(addr, 1000, 128, d)
			cpu := s.CPU() - c0
			s.Stop()
			if err != nil || r.Ops == 0 {
				b.Fatalf("%s: %v (%d round trips)", role, err, r.Ops)
			}
			rates[role] = append(rates[role], float64(r.Ops)/r.Elapsed.Seconds())
			cpus[role] = append(cpus[role], float64(cpu)/float64(r.Ops))
		}
	}
	med := loopback.Median
	std := med(cpus["std-echo"])
	for _, role := range roles {
		b.Logf("%-13s %8.0f rt/s (%.2fx std)  server CPU %6.2f µs/rt (%.2fx std)", role, med(rates[role]),
			med(rates[role])/med(rates["std-echo"]), med(cpus[role])/1e3, med(cpus[role])/std)
	}
	b.ReportMetric(med(rates["uring-echo"])/med(rates["std-echo"]), "xSTD")
	b.ReportMetric(med(cpus["uring-echo"])/std, "cpu/rt-xSTD")
	b.ReportMetric(med(cpus["c-uring-echo"])/std, "c-uring-cpu/rt-xSTD")
	b.ReportMetric(med(cpus["c-epoll-echo"])/std, "c-epoll-cpu/rt-xSTD")
}
