//go:build linux

package cbench

import (
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"github.com/goaio/uring/internal/loopback"
)

// RegisterServers adds the C echo servers (echo.h) to the roles a
// loopback child can run: "c-epoll-echo", an epoll loop, and "c-uring-echo",
// a loop owning its io_uring (SINGLE_ISSUER, DEFER_TASKRUN, multishot accept
// and recv into a provided-buffer ring). A benchmark binary calls it before
// loopback.ServeIfChild.
func RegisterServers() {
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
			return ServeEcho(kind, lfd, never[0])
		}
	}
}

// EchoFigures are a server's medians over the rounds of CompareEcho.
type EchoFigures struct {
	Rate   float64 // round trips per second
	CPUPer float64 // server CPU nanoseconds per round trip
}

// CompareEcho drives each role's echo server (a loopback child) with
// EchoClient: conns connections of msg-byte ping-pong for d, after a
// warm-up of d/5, rounds rounds, the roles alternating (A B, then B A).
func CompareEcho(roles []string, conns, msg, rounds int, d time.Duration) (map[string]EchoFigures, error) {
	rates, cpus := map[string][]float64{}, map[string][]float64{}
	for round := range rounds {
		order := append([]string(nil), roles...)
		if round%2 == 1 {
			for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
				order[i], order[j] = order[j], order[i]
			}
		}
		for _, role := range order {
			s, err := loopback.StartChild(role)
			if err != nil {
				return nil, err
			}
			r, cpu, err := measureEcho(s, conns, msg, d)
			if stopErr := s.Stop(); err == nil && stopErr != nil {
				err = stopErr
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", role, err)
			}
			rates[role] = append(rates[role], float64(r.Ops)/r.Elapsed.Seconds())
			cpus[role] = append(cpus[role], float64(cpu)/float64(r.Ops))
		}
	}
	res := map[string]EchoFigures{}
	for _, role := range roles {
		res[role] = EchoFigures{Rate: loopback.Median(rates[role]), CPUPer: loopback.Median(cpus[role])}
	}
	return res, nil
}

func measureEcho(s *loopback.Child, conns, msg int, d time.Duration) (Result, time.Duration, error) {
	addr, err := netip.ParseAddrPort(s.Addr)
	if err != nil {
		return Result{}, 0, err
	}
	if _, err := EchoClient(addr, conns, msg, d/5); err != nil { // warm-up
		return Result{}, 0, err
	}
	c0 := s.CPU()
	r, err := EchoClient(addr, conns, msg, d)
	cpu := s.CPU() - c0
	if err == nil && r.Ops == 0 {
		err = fmt.Errorf("no round trip in %v", d)
	}
	return r, cpu, err
}
