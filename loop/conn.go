package loop

import (
	"net"
	"runtime"
)

// Conn is one connection on a loop. Write, Close, CloseWrite and the
// addresses are for the connection's callbacks (and functions given to
// Run); from other goroutines use AsyncWrite or Run.
type Conn struct {
	l   *Loop
	s   *Server
	ctx any

	// On the ring: the loop's slot, its ops and its queued bytes.
	rl         *ringLoop
	sv         *serverOnLoop
	fd         int
	idx        int32
	gen        uint16
	out        *outBuf // written by handlers, not yet sent
	sending    *outBuf // in flight; sent bytes of it are done
	sent       int
	recvOn     bool // a multishot recv is armed
	sendOn     bool
	paused     bool // unsent bytes passed the high-water mark: not receiving
	dirty      bool // on the loop's list to send
	closing    bool // no more receiving; closes once sent (or at once when failed)
	failed     bool
	finished   bool
	shutWanted bool
	shutDone   bool
	err        error
	active     int64 // the loop\'s clock when bytes last moved (WithIdleTimeout)

	std *stdConn // on the fallback
}

// outBuf is queued output, pinned while the connection holds it: the
// kernel reads it during a send.
type outBuf struct {
	b   []byte
	pin runtime.Pinner
}

// reserve makes room for n more bytes. Only a buffer not in flight grows.
func (o *outBuf) reserve(n int) {
	if cap(o.b)-len(o.b) >= n {
		return
	}
	nb := make([]byte, len(o.b), max(2*cap(o.b), len(o.b)+n, 4096))
	copy(nb, o.b)
	o.pin.Unpin()
	o.b = nb
	o.pin.Pin(&nb[:1][0])
}

func (o *outBuf) release() {
	if o != nil {
		o.pin.Unpin()
		o.b = nil
	}
}

// Loop returns the connection's loop.
func (c *Conn) Loop() *Loop { return c.l }

// Context returns what SetContext stored.
func (c *Conn) Context() any { return c.ctx }

// SetContext stores a value for the handler, such as a parser's state.
func (c *Conn) SetContext(v any) { c.ctx = v }

// Write queues b to be sent; it copies b and never blocks. All that the
// callbacks of one loop iteration wrote goes out in the loop's next enter.
func (c *Conn) Write(b []byte) (int, error) {
	if c.std != nil {
		return c.stdWrite(b)
	}
	return c.ringWrite(b)
}

// Close closes the connection once what was written is sent; it receives
// nothing more. OnClose follows.
func (c *Conn) Close() error {
	if c.std != nil {
		return c.stdClose()
	}
	return c.ringClose()
}

// CloseWrite shuts down the sending side once what was written is sent;
// the connection still receives.
func (c *Conn) CloseWrite() error {
	if c.std != nil {
		return c.stdCloseWrite()
	}
	return c.ringCloseWrite()
}

// Buffered is the number of bytes written and not yet sent.
func (c *Conn) Buffered() int {
	if c.std != nil {
		return len(c.std.out)
	}
	return c.pending()
}

func (c *Conn) pending() int {
	n := 0
	if c.out != nil {
		n += len(c.out.b)
	}
	if c.sending != nil {
		n += len(c.sending.b) - c.sent
	}
	return n
}

// LocalAddr returns the connection's local address. On the ring it is
// read from the socket each call (a system call): idle connections keep
// no addresses.
func (c *Conn) LocalAddr() net.Addr {
	if c.std != nil {
		return c.std.nc.LocalAddr()
	}
	return c.ringAddr(false)
}

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr {
	if c.std != nil {
		return c.std.nc.RemoteAddr()
	}
	return c.ringAddr(true)
}

// Run runs fn(c) on the connection's loop (on the fallback, with the
// connection's callbacks), after what is queued there, and not at all once
// the connection is closed; from any goroutine. Its writes go out as a
// callback's do. After the peer's FIN the connection is closing, and fn
// does not run.
func (c *Conn) Run(fn func(*Conn)) error {
	if c.std != nil {
		return c.stdPost(fn)
	}
	return c.l.post(func() {
		if !c.closing {
			fn(c)
		}
	})
}

// AsyncWrite queues a copy of b from any goroutine: Write, run on the loop.
func (c *Conn) AsyncWrite(b []byte) error {
	cp := append([]byte(nil), b...)
	return c.Run(func(c *Conn) { _, _ = c.Write(cp) })
}
