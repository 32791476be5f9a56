package loopback

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// FloodResult is what a server did under FloodEcho.
type FloodResult struct {
	Rate, FloodRate float64 // the echo connections' round trips per second, alone and beside the floods
	GrowthKiB       int64   // the server's RSS growth over the flood
	Flooded         int64   // bytes the flooding connections got the server to take
}

// FloodEcho measures back-pressure (issue 26): conns echo connections do
// 128-byte ping-pong for d alone, then for d beside floods connections that
// write without ever reading. A server that reads what it cannot send back
// grows; one that stops reading a connection whose peer does not read keeps
// its memory, and its echo connections keep their round trips.
func FloodEcho(s *Child, floods, conns int, d time.Duration) (FloodResult, error) {
	var res FloodResult
	n, err := EchoLoad(s.Addr, conns, d)
	if err != nil {
		return res, err
	}
	res.Rate = float64(n) / d.Seconds()
	before := s.RSSKiB()
	fcs := make([]net.Conn, 0, floods)
	defer func() {
		for _, c := range fcs {
			c.Close()
		}
	}()
	for range floods {
		c, err := net.Dial("tcp", s.Addr)
		if err != nil {
			return res, err
		}
		fcs = append(fcs, c)
	}
	var flooded atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	chunk := make([]byte, 64<<10)
	for _, c := range fcs {
		wg.Go(func() {
			for time.Now().Before(stop) {
				_ = c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
				m, err := c.Write(chunk)
				flooded.Add(int64(m))
				if err != nil && !isTimeout(err) {
					return
				}
			}
		})
	}
	n, err = EchoLoad(s.Addr, conns, d)
	wg.Wait()
	res.GrowthKiB = s.RSSKiB() - before
	res.Flooded = flooded.Load()
	res.FloodRate = float64(n) / d.Seconds()
	return res, err
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
