//go:build linux

package loopback

import (
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// IdleFigures are a server's figures with idle connections open.
type IdleFigures struct {
	RSSKiB, RSS0KiB  int64   // resident memory with the connections, and before them
	HeapPer, ObjsPer float64 // live heap bytes and objects per connection, over the server's own before them
	Goroutines       int
	Threads          int
}

// IdleConns opens conns connections to s's echo server, makes each echo one
// byte so the server has seen traffic on all, lets it settle, and reads the
// server's memory.
func IdleConns(s *Child, conns int) (IdleFigures, error) {
	var f IdleFigures
	heap0, objs0, _, err := s.LiveHeap()
	if err != nil {
		return f, err
	}
	f.RSS0KiB = s.RSSKiB()
	cs := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	for i := 0; i < conns; i++ {
		c, err := net.Dial("tcp", s.Addr)
		if err != nil {
			return f, fmt.Errorf("dial %d: %w", i, err)
		}
		cs = append(cs, c)
	}
	for _, c := range cs {
		if _, err := c.Write([]byte{1}); err != nil {
			return f, err
		}
	}
	one := make([]byte, 1)
	for _, c := range cs {
		if _, err := io.ReadFull(c, one); err != nil {
			return f, err
		}
	}
	time.Sleep(500 * time.Millisecond)
	f.RSSKiB = s.RSSKiB()
	if os.Getenv(memStatsEnv) != "" {
		_ = s.Signal(syscall.SIGUSR1) // the server's runtime memory, with the connections open
		time.Sleep(100 * time.Millisecond)
	}
	heap, objs, gs, err := s.LiveHeap()
	if err != nil {
		return f, err
	}
	f.HeapPer = float64(int64(heap)-int64(heap0)) / float64(conns)
	f.ObjsPer = float64(int64(objs)-int64(objs0)) / float64(conns)
	f.Goroutines, f.Threads = gs, s.Threads()
	return f, nil
}
