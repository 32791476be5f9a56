package loop

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// stdConn is a connection on the fallback: a goroutine reads, and the
// callbacks of the connection run under mu.
type stdConn struct {
	nc           net.Conn
	mu           sync.Mutex
	out          []byte
	closing      bool
	shutWanted   bool
	shutDone     bool
	writeErr     error
	serverClosed atomic.Bool

	// Conn.Run's functions, run in order by a goroutine of the connection
	// (drainStd): a peer that does not read blocks only its own.
	runq     []func(*Conn)
	draining bool
	ended    bool // the reader is done: nothing more runs (under the Server's mu)
}

// startStd starts a fallback loop: a goroutine that runs what is posted.
func (l *Loop) startStd() {
	l.wake = make(chan struct{}, 1)
	l.g.wg.Add(1)
	go func() {
		defer l.g.wg.Done()
		for !l.stdStopping {
			if l.queued.Load() == 0 {
				l.sleeping.Store(true)
				if l.queued.Load() == 0 {
					<-l.wake
				}
				l.sleeping.Store(false)
			}
			l.runQueue()
		}
		l.mu.Lock()
		l.stopped = true
		l.mu.Unlock()
		l.runQueue()
	}()
}

// serveStd reads the connection and runs its callbacks until it ends.
func (c *Conn) serveStd() {
	sc := c.std
	h := c.s.h
	defer c.s.wg.Done()
	sc.mu.Lock()
	c.stdAfter(h.OnOpen(c))
	sc.mu.Unlock()
	buf := make([]byte, c.l.g.cfg.bufSize)
	idle := c.l.g.cfg.idle
	var err error
	for {
		if idle > 0 {
			_ = sc.nc.SetReadDeadline(time.Now().Add(idle))
		}
		n, rerr := sc.nc.Read(buf)
		if n > 0 {
			sc.mu.Lock()
			if !sc.closing {
				c.stdAfter(h.OnData(c, buf[:n]))
			}
			sc.mu.Unlock()
		}
		if rerr != nil {
			err = rerr
			break
		}
	}
	sc.mu.Lock()
	switch {
	case sc.serverClosed.Load():
		err = net.ErrClosed
	case sc.writeErr != nil:
		err = sc.writeErr
	case sc.closing || errors.Is(err, io.EOF):
		err = nil
	}
	sc.closing = true
	sc.nc.Close()
	h.OnClose(c, err)
	sc.mu.Unlock()
	c.s.mu.Lock()
	delete(c.s.conns, c)
	sc.ended = true
	c.s.mu.Unlock()
}

// stdPost queues fn for the connection's drain goroutine, starting it when
// none runs.
func (c *Conn) stdPost(fn func(*Conn)) error {
	s, sc := c.s, c.std
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc.ended {
		return nil // closed: fn does not run, as on the ring
	}
	sc.runq = append(sc.runq, fn)
	if !sc.draining {
		sc.draining = true
		s.wg.Add(1) // the reader is still counted: the group is not at zero
		go c.drainStd()
	}
	return nil
}

// drainStd runs the connection's queued functions until none is left.
func (c *Conn) drainStd() {
	s, sc := c.s, c.std
	defer s.wg.Done()
	for {
		s.mu.Lock()
		q := sc.runq
		sc.runq = nil
		if len(q) == 0 {
			sc.draining = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		for _, fn := range q {
			c.stdRun(fn)
		}
	}
}

// stdAfter sends what a callback wrote and does what it asked: the
// fallback's flush, under mu.
func (c *Conn) stdAfter(a Action) {
	sc := c.std
	if len(sc.out) > 0 {
		_, err := sc.nc.Write(sc.out)
		sc.out = sc.out[:0]
		if err != nil && sc.writeErr == nil && !sc.closing {
			sc.writeErr = err
			sc.closing = true
			sc.nc.Close()
			return
		}
	}
	if cap(sc.out) > shrinkAbove {
		sc.out = nil
	}
	if a == Close {
		sc.closing = true
	}
	if sc.closing {
		sc.nc.Close() // the reader sees it and runs OnClose
		return
	}
	if sc.shutWanted && !sc.shutDone {
		sc.shutDone = true
		if cw, ok := sc.nc.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}
}

func (c *Conn) stdRun(fn func(*Conn)) {
	sc := c.std
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.closing {
		return
	}
	fn(c)
	c.stdAfter(None)
}

func (c *Conn) stdWrite(b []byte) (int, error) {
	sc := c.std
	if sc.closing {
		return 0, &net.OpError{Op: "write", Net: "tcp", Err: net.ErrClosed}
	}
	if sc.shutWanted {
		return 0, &net.OpError{Op: "write", Net: "tcp", Source: sc.nc.LocalAddr(), Addr: sc.nc.RemoteAddr(),
			Err: os.NewSyscallError("write", syscall.EPIPE)}
	}
	sc.out = append(sc.out, b...)
	return len(b), nil
}

// stdClose is called with mu held (from a callback): stdAfter closes.
func (c *Conn) stdClose() error {
	if c.std.closing {
		return net.ErrClosed
	}
	c.std.closing = true
	return nil
}

func (c *Conn) stdCloseWrite() error {
	if c.std.closing {
		return net.ErrClosed
	}
	c.std.shutWanted = true
	return nil
}
