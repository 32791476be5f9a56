package loop

import (
	"errors"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring/ops"
)

// errServerClosed is what OnClose gets when the server or group closed.
var errServerClosed = net.ErrClosed

// shrinkAbove: an output buffer this large is dropped once drained, not
// kept for reuse, so a burst does not hold memory after it.
const shrinkAbove = 64 << 10

// poolMax bounds the drained output buffers a loop keeps for reuse.
const poolMax = 256

// getBuf returns an empty output buffer, pinned, from the loop's pool.
func (rl *ringLoop) getBuf() *outBuf {
	if n := len(rl.pool); n > 0 {
		o := rl.pool[n-1]
		rl.pool = rl.pool[:n-1]
		return o
	}
	return new(outBuf)
}

// putBuf takes back a buffer no send uses any more.
func (rl *ringLoop) putBuf(o *outBuf) {
	if o == nil {
		return
	}
	if cap(o.b) > shrinkAbove || len(rl.pool) >= poolMax || rl.stopping {
		o.release()
		return
	}
	o.b = o.b[:0]
	rl.pool = append(rl.pool, o)
}

func (c *Conn) ringWrite(b []byte) (int, error) {
	if c.closing || c.finished {
		return 0, c.opError("write", net.ErrClosed)
	}
	if c.shutWanted {
		return 0, c.opError("write", os.NewSyscallError("write", syscall.EPIPE))
	}
	if len(b) == 0 {
		return 0, nil
	}
	if c.out == nil {
		c.out = c.rl.getBuf()
	}
	c.out.reserve(len(b))
	c.out.b = append(c.out.b, b...)
	c.markDirty()
	return len(b), nil
}

func (c *Conn) ringClose() error {
	if c.closing {
		return net.ErrClosed
	}
	c.closing = true
	if c.recvOn {
		_ = c.rl.r.Cancel(tag(kindRecv, c.gen, c.idx))
	}
	c.markDirty() // the flush sends what is left, then closes
	return nil
}

func (c *Conn) ringCloseWrite() error {
	if c.closing {
		return net.ErrClosed
	}
	c.shutWanted = true
	c.markDirty()
	return nil
}

// markDirty puts c on the loop's list to send (and to finish closing).
func (c *Conn) markDirty() {
	if !c.dirty {
		c.dirty = true
		c.rl.dirty = append(c.rl.dirty, c)
	}
}

func (c *Conn) armRecv() {
	op := ops.RecvMulti(c.fd, bufGroup, 0)
	if err := c.rl.r.Prep(&op, tag(kindRecv, c.gen, c.idx)); err != nil {
		c.fail(err)
		return
	}
	c.recvOn = true
	c.rl.ownOut++
}

// recvDone handles a completion of the connection's multishot recv.
func (c *Conn) recvDone(res int32, flags uint32, more bool) {
	rl := c.rl
	if !more {
		c.recvOn = false
	}
	switch {
	case res > 0:
		c.active = rl.clock
		in, bid, done := rl.bufs.Take(flags, int(res))
		if !c.closing && c.s.h.OnData(c, in) == Close {
			c.ringClose()
		}
		if done {
			rl.bufs.Recycle(bid)
		}
		if !c.closing && !c.paused && c.pending() > rl.l.g.cfg.highWater {
			// Back-pressure: stop receiving until the peer reads.
			c.paused = true
			if c.recvOn {
				_ = rl.r.Cancel(tag(kindRecv, c.gen, c.idx))
			}
		}
	case res == 0: // the peer's FIN: send what is queued, then close
		if !c.closing {
			c.closing = true
			c.markDirty()
		}
	case res == -int32(syscall.ENOBUFS) || res == -int32(syscall.ECANCELED):
	default:
		c.fail(c.opError("read", os.NewSyscallError("read", syscall.Errno(-res))))
	}
	if !c.recvOn && !c.closing && !c.paused {
		c.armRecv()
	}
	c.maybeFinish()
}

// send starts sending what was written, when no send is in flight.
func (c *Conn) send() {
	if c.finished || c.sendOn {
		return
	}
	if c.failed || c.out == nil || len(c.out.b) == 0 {
		c.drained()
		return
	}
	c.out, c.sending = c.sending, c.out
	c.sent = 0
	c.prepSend()
}

func (c *Conn) prepSend() {
	op := ops.Send(c.fd, c.sending.b[c.sent:], unix.MSG_NOSIGNAL)
	if err := c.rl.r.Prep(&op, tag(kindSend, c.gen, c.idx)); err != nil {
		c.fail(err)
		return
	}
	c.sendOn = true
	c.rl.ownOut++
}

// sendDone handles a send's completion: the rest of a short send goes
// again, then what was written meanwhile.
func (c *Conn) sendDone(res int32) {
	c.sendOn = false
	if res < 0 {
		if res != -int32(syscall.ECANCELED) || !c.failed {
			c.fail(c.opError("write", os.NewSyscallError("write", syscall.Errno(-res))))
		}
		c.maybeFinish()
		return
	}
	c.sent += int(res)
	c.active = c.rl.clock
	if c.sent < len(c.sending.b) && !c.failed {
		c.prepSend()
		return
	}
	// The drained buffer goes back to the loop: an idle connection holds
	// none.
	c.rl.putBuf(c.sending)
	c.sending = nil
	c.sent = 0
	if c.paused && c.pending() <= c.rl.l.g.cfg.highWater/2 {
		c.paused = false
		if !c.recvOn && !c.closing {
			c.armRecv()
		}
	}
	c.send()
	c.maybeFinish()
}

// drained runs when nothing is left to send: a wanted half-close happens.
func (c *Conn) drained() {
	if c.shutWanted && !c.shutDone && !c.failed && c.pending() == 0 {
		c.shutDone = true
		_ = unix.Shutdown(c.fd, unix.SHUT_WR)
	}
	c.maybeFinish()
}

// fail ends the connection at once: queued bytes are dropped and its ops
// cancelled; OnClose gets err.
func (c *Conn) fail(err error) {
	if c.failed || c.finished {
		return
	}
	c.failed, c.closing = true, true
	if c.err == nil {
		c.err = err
	}
	if c.out != nil {
		c.out.b = c.out.b[:0]
	}
	if c.recvOn {
		_ = c.rl.r.Cancel(tag(kindRecv, c.gen, c.idx))
	}
	if c.sendOn {
		_ = c.rl.r.Cancel(tag(kindSend, c.gen, c.idx))
	}
	c.markDirty()
}

// maybeFinish closes the descriptor and runs OnClose once the connection
// is closing and none of its ops is in flight.
func (c *Conn) maybeFinish() {
	if !c.closing || c.finished || c.recvOn || c.sendOn || c.dirty || (!c.failed && c.pending() > 0) {
		return
	}
	c.finished = true
	unix.Close(c.fd)
	c.rl.putBuf(c.out)
	c.rl.putBuf(c.sending)
	c.out, c.sending = nil, nil
	c.s.h.OnClose(c, c.err)
	c.rl.release(c)
}

// ringAddr reads the socket's address (peer: the remote one).
func (c *Conn) ringAddr(peer bool) net.Addr {
	if c.finished {
		return nil
	}
	var sa unix.Sockaddr
	var err error
	if peer {
		sa, err = unix.Getpeername(c.fd)
	} else {
		sa, err = unix.Getsockname(c.fd)
	}
	if err != nil {
		return nil
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port}
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: "unix"}
	}
	return nil
}

// opError wraps err as std net does.
func (c *Conn) opError(op string, err error) error {
	if errors.Is(err, net.ErrClosed) && op == "write" {
		return &net.OpError{Op: op, Net: c.s.network, Err: err}
	}
	return &net.OpError{Op: op, Net: c.s.network, Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
