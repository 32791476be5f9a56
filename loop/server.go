package loop

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Server serves one listener's connections on a Group's loops.
type Server struct {
	g       *Group
	ln      net.Listener
	h       Handler
	lfd     int
	network string // the listener's, for errors
	own     bool   // Listen made the group: Close closes it
	closed  atomic.Bool
	stop    chan struct{}  // closed by Close: the fallback's accept stops waiting
	wg      sync.WaitGroup // each loop's part (ring), or each goroutine (fallback)
	onLoop  []*serverOnLoop

	mu    sync.Mutex
	conns map[*Conn]struct{} // the fallback's open connections
}

// Listen listens on network ("tcp", "tcp4", "tcp6", "unix") and address,
// and serves with h on a new Group of opts. Close closes both.
func Listen(network, address string, h Handler, opts ...Option) (*Server, error) {
	g, err := NewGroup(opts...)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen(network, address)
	if err != nil {
		g.Close()
		return nil, err
	}
	s, err := g.Serve(ln, h)
	if err != nil {
		ln.Close()
		g.Close()
		return nil, err
	}
	s.own = true
	return s, nil
}

// Serve serves ln's connections with h on the group's loops: each loop
// accepts on ln (a multishot accept) and keeps the connections it accepts.
// The Server owns ln from here: its Close closes ln.
func (g *Group) Serve(ln net.Listener, h Handler) (*Server, error) {
	if g.closed.Load() {
		return nil, net.ErrClosed
	}
	s := &Server{g: g, ln: ln, h: h, lfd: -1, network: ln.Addr().Network(), stop: make(chan struct{})}
	if g.fallback != nil {
		s.conns = map[*Conn]struct{}{}
		s.wg.Add(1)
		g.addServer(s)
		go s.acceptStd()
		return s, nil
	}
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("loop: Serve: a %T has no descriptor", ln)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	if err := raw.Control(func(fd uintptr) { s.lfd = int(fd) }); err != nil {
		return nil, err
	}
	s.onLoop = make([]*serverOnLoop, len(g.loops))
	g.addServer(s) // only now: Group.Close stops what it holds
	for _, l := range g.loops {
		s.wg.Add(1)
		if l.post(func() { l.ring.addServer(s) }) != nil {
			s.wg.Done()
		}
	}
	return s, nil
}

// Addr returns the listener's address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops accepting, closes every connection (OnClose gets
// net.ErrClosed) and the listener, and returns when all are closed. A
// Server made by Listen closes its Group too. Called from a callback on the
// ring it starts all that and returns at once (the loops cannot finish
// while their callback waits); on the fallback a callback must not call it
// (it would wait for that callback): use go s.Close() there.
func (s *Server) Close() error {
	if !s.shut() {
		return net.ErrClosed
	}
	if s.own {
		return s.g.Close()
	}
	return nil
}

// shut is Close without the group: it reports whether it did the closing.
func (s *Server) shut() bool {
	if !s.closed.CompareAndSwap(false, true) {
		return false
	}
	if s.g.fallback != nil {
		close(s.stop)
		s.ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.std.serverClosed.Store(true)
			c.std.nc.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	} else {
		for _, l := range s.g.loops {
			// A loop that no longer takes posts is stopping, and its close
			// stops the server's part there.
			_ = l.post(func() { l.ring.stopServer(s) })
		}
		if s.g.onLoopThread() {
			// From a callback: the loops cannot finish while this waits.
			go func() { s.wg.Wait(); s.ln.Close() }()
			return true
		}
		s.wg.Wait()
		s.ln.Close()
	}
	return true
}

// retryAccept reports whether an Accept error passes: the process or the
// system is out of descriptors or memory, or a connection went before it
// was accepted.
func retryAccept(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// acceptStd is the fallback's accept loop.
func (s *Server) acceptStd() {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if s.closed.Load() || !retryAccept(err) {
				return
			}
			// EMFILE and the like would fail again at once: wait, 5 ms
			// doubling to 1 s, as net/http's Serve does (and the ring's
			// accept does).
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
			case <-s.stop:
				return
			}
			continue
		}
		backoff = 0
		c := &Conn{l: s.g.pick(), s: s, std: &stdConn{nc: nc}}
		s.mu.Lock()
		if s.closed.Load() {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serveStd()
	}
}

// Group returns the group the server runs on.
func (s *Server) Group() *Group { return s.g }
