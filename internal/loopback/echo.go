package loopback

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// EchoResult is one echo server's figures, averaged over the rounds of
// CompareEcho.
type EchoResult struct {
	Role    string
	Rate    float64       // round trips per second
	CPUPer  time.Duration // server CPU per round trip
	SwPer   float64       // server context switches per round trip
	Threads int           // the server's most OS threads in a round
	Trips   uint64        // round trips counted, over all rounds
}

func (r EchoResult) String() string {
	return fmt.Sprintf("%-11s %10.0f rt/s  server CPU %8v/rt  %.2f context switches/rt  %d threads",
		r.Role, r.Rate, r.CPUPer, r.SwPer, r.Threads)
}

// CompareEcho measures the echo servers of roles (each a child process, see
// StartChild) under conns connections doing 128-byte round trips: rounds
// rounds, the roles alternating within each, every role measured for d per
// round after a warm-up of d/5. Alternating spreads the machine's drift
// over all of them, so their ratios are from the same run.
func CompareEcho(roles []string, conns, rounds int, d time.Duration) (map[string]*EchoResult, error) {
	sides := make([]Side, len(roles))
	for i, r := range roles {
		sides[i] = Side{Name: r, Role: r}
	}
	return CompareEchoSides(sides, conns, rounds, d)
}

// CompareEchoSides is CompareEcho for sides that may differ in their
// environment only, each result under its side's name.
func CompareEchoSides(sides []Side, conns, rounds int, d time.Duration) (map[string]*EchoResult, error) {
	res := map[string]*EchoResult{}
	for range rounds {
		for _, side := range sides {
			role := side.Name
			s, err := StartChild(side.Role, side.Env...)
			if err != nil {
				return nil, err
			}
			r, err := measureEcho(s, conns, d)
			if stopErr := s.Stop(); err == nil && stopErr != nil {
				err = fmt.Errorf("%s: %v", role, stopErr)
			}
			if err != nil {
				return nil, err
			}
			sum := res[role]
			if sum == nil {
				sum = &EchoResult{Role: role}
				res[role] = sum
			}
			sum.Rate += r.Rate / float64(rounds)
			sum.CPUPer += r.CPUPer / time.Duration(rounds)
			sum.SwPer += r.SwPer / float64(rounds)
			sum.Threads = max(sum.Threads, r.Threads)
			sum.Trips += r.Trips
		}
	}
	return res, nil
}

func measureEcho(s *Child, conns int, d time.Duration) (EchoResult, error) {
	if _, err := EchoLoad(s.Addr, conns, d/5); err != nil { // warm-up: connections, stacks
		return EchoResult{}, err
	}
	c0, s0 := s.CPU(), s.Switches()
	t0 := time.Now()
	n, err := EchoLoad(s.Addr, conns, d)
	el := time.Since(t0)
	cpu, sw := s.CPU()-c0, s.Switches()-s0
	if err != nil {
		return EchoResult{}, err
	}
	if n == 0 {
		return EchoResult{}, fmt.Errorf("no round trip in %v", d)
	}
	return EchoResult{
		Rate:    float64(n) / el.Seconds(),
		CPUPer:  cpu / time.Duration(n),
		SwPer:   float64(sw) / float64(n),
		Threads: s.Threads(),
		Trips:   n,
	}, nil
}

// EchoLoad dials conns connections to addr (std net, so every server sees
// the same client) and has each do 128-byte round trips, checked, for d. It
// returns the round trips done, and the first error: a dial that fails, or
// a connection that breaks or echoes other bytes.
func EchoLoad(addr string, conns int, d time.Duration) (uint64, error) {
	cs := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return 0, fmt.Errorf("dial %d: %v", i, err)
		}
		cs = append(cs, c)
	}
	var total atomic.Uint64
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	stop := time.Now().Add(d)
	for i, c := range cs {
		wg.Go(func() {
			msg := bytes.Repeat([]byte{byte('a' + i%26)}, 128)
			in := make([]byte, 128)
			n := uint64(0)
			var err error
			for time.Now().Before(stop) {
				if _, err = c.Write(msg); err != nil {
					break
				}
				if _, err = io.ReadFull(c, in); err != nil {
					break
				}
				if !bytes.Equal(in, msg) {
					err = fmt.Errorf("connection %d: echoed %q", i, in)
					break
				}
				n++
			}
			if err != nil {
				firstErr.CompareAndSwap(nil, &err)
			}
			total.Add(n)
		})
	}
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		return total.Load(), *p
	}
	return total.Load(), nil
}
