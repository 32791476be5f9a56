//go:build linux

package net

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring/internal/ringfd"
)

// conn is what every connection type shares: net.Conn's contract over a
// netFD, with std's errors.
type conn struct{ fd *netFD }

func (c *conn) ok() bool { return c != nil && c.fd != nil }

// Read reads from the connection, as net.Conn.Read.
func (c *conn) Read(b []byte) (int, error) {
	if !c.ok() {
		return 0, syscall.EINVAL
	}
	return c.fd.Read(b)
}

// Write writes all of b or returns an error, as net.Conn.Write.
func (c *conn) Write(b []byte) (int, error) {
	if !c.ok() {
		return 0, syscall.EINVAL
	}
	return c.fd.Write(b)
}

// Close closes the connection, unblocking its pending Read and Write.
func (c *conn) Close() error {
	if !c.ok() {
		return syscall.EINVAL
	}
	return c.fd.Close()
}

// LocalAddr returns the local address.
func (c *conn) LocalAddr() net.Addr {
	if !c.ok() {
		return nil
	}
	return c.fd.localAddr()
}

// RemoteAddr returns the remote address.
func (c *conn) RemoteAddr() net.Addr {
	if !c.ok() {
		return nil
	}
	return c.fd.remoteAddr()
}

// SetDeadline sets the read and write deadlines, as net.Conn.SetDeadline.
func (c *conn) SetDeadline(t time.Time) error {
	if !c.ok() {
		return syscall.EINVAL
	}
	return c.fd.setDeadline(t, true, true)
}

// SetReadDeadline sets the read deadline.
func (c *conn) SetReadDeadline(t time.Time) error {
	if !c.ok() {
		return syscall.EINVAL
	}
	return c.fd.setDeadline(t, true, false)
}

// SetWriteDeadline sets the write deadline.
func (c *conn) SetWriteDeadline(t time.Time) error {
	if !c.ok() {
		return syscall.EINVAL
	}
	return c.fd.setDeadline(t, false, true)
}

// SetReadBuffer sets the socket's receive buffer size.
func (c *conn) SetReadBuffer(bytes int) error {
	return c.setBuffer(unix.SO_RCVBUF, bytes)
}

// SetWriteBuffer sets the socket's send buffer size.
func (c *conn) SetWriteBuffer(bytes int) error {
	return c.setBuffer(unix.SO_SNDBUF, bytes)
}

// setBuffer is setsockopt with std's error for the buffer sizes, which
// names the local address only.
func (c *conn) setBuffer(opt, v int) error {
	if !c.ok() {
		return syscall.EINVAL
	}
	err := c.fd.control(func(s int) error {
		return os.NewSyscallError("setsockopt", unix.SetsockoptInt(s, unix.SOL_SOCKET, opt, v))
	})
	if err != nil {
		return c.fd.localErr("set", err)
	}
	return nil
}

func (c *conn) setsockopt(level, opt, v int) error {
	if !c.ok() {
		return syscall.EINVAL
	}
	err := c.fd.control(func(s int) error {
		return os.NewSyscallError("setsockopt", unix.SetsockoptInt(s, level, opt, v))
	})
	if err != nil {
		return c.fd.opErr("set", err)
	}
	return nil
}

// SyscallConn returns the raw connection.
func (c *conn) SyscallConn() (syscall.RawConn, error) {
	if !c.ok() {
		return nil, syscall.EINVAL
	}
	return rawConn{c.fd}, nil
}

// File returns a copy of the socket as an *os.File in blocking mode, as std.
func (c *conn) File() (*os.File, error) {
	if !c.ok() {
		return nil, syscall.EINVAL
	}
	return c.fd.file("file")
}

// TCPConn is a TCP connection on the ring, with *net.TCPConn's methods.
type TCPConn struct{ conn }

var _ net.Conn = (*TCPConn)(nil)

// CloseRead shuts down the reading side.
func (c *TCPConn) CloseRead() error {
	if !c.ok() {
		return syscall.EINVAL
	}
	return c.fd.shutdown(unix.SHUT_RD, "close")
}

// CloseWrite shuts down the writing side: the peer reads io.EOF.
func (c *TCPConn) CloseWrite() error {
	if !c.ok() {
		return syscall.EINVAL
	}
	return c.fd.shutdown(unix.SHUT_WR, "close")
}

// SetNoDelay controls Nagle's algorithm (on by default, as std: no delay).
func (c *TCPConn) SetNoDelay(noDelay bool) error {
	return c.setsockopt(unix.IPPROTO_TCP, unix.TCP_NODELAY, boolint(noDelay))
}

// SetKeepAlive turns keep-alive probes on or off.
func (c *TCPConn) SetKeepAlive(keepalive bool) error {
	return c.setsockopt(unix.SOL_SOCKET, unix.SO_KEEPALIVE, boolint(keepalive))
}

// SetKeepAlivePeriod sets the idle time before keep-alive probes, as
// *net.TCPConn's: zero means std's default (15 s), negative leaves it.
func (c *TCPConn) SetKeepAlivePeriod(d time.Duration) error {
	return c.setKeepAliveOpt(unix.TCP_KEEPIDLE, d)
}

// SetKeepAliveConfig configures keep-alive as *net.TCPConn's does: zero
// fields take std's defaults, negative ones are left as they are.
func (c *TCPConn) SetKeepAliveConfig(config net.KeepAliveConfig) error {
	if err := c.SetKeepAlive(config.Enable); err != nil {
		return err
	}
	if err := c.setKeepAliveOpt(unix.TCP_KEEPIDLE, config.Idle); err != nil {
		return err
	}
	if err := c.setKeepAliveOpt(unix.TCP_KEEPINTVL, config.Interval); err != nil {
		return err
	}
	switch {
	case config.Count == 0:
		return c.setsockopt(unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 9)
	case config.Count > 0:
		return c.setsockopt(unix.IPPROTO_TCP, unix.TCP_KEEPCNT, config.Count)
	}
	return nil
}

// setKeepAliveOpt sets TCP_KEEPIDLE or TCP_KEEPINTVL in whole seconds,
// rounded up: zero is std's 15 s, negative leaves the option.
func (c *TCPConn) setKeepAliveOpt(opt int, d time.Duration) error {
	if !c.ok() {
		return syscall.EINVAL
	}
	if d < 0 {
		return nil
	}
	if d == 0 {
		d = 15 * time.Second
	}
	return c.setsockopt(unix.IPPROTO_TCP, opt, int(roundSeconds(d)))
}

// SetLinger sets SO_LINGER, as *net.TCPConn's SetLinger.
func (c *TCPConn) SetLinger(sec int) error {
	if !c.ok() {
		return syscall.EINVAL
	}
	l := unix.Linger{Onoff: 1, Linger: int32(sec)}
	if sec < 0 {
		l = unix.Linger{}
	}
	err := c.fd.control(func(s int) error {
		return os.NewSyscallError("setsockopt", unix.SetsockoptLinger(s, unix.SOL_SOCKET, unix.SO_LINGER, &l))
	})
	if err != nil {
		return c.fd.opErr("set", err)
	}
	return nil
}

// ReadFrom copies r into the connection, with std's fast paths: from a
// regular file (an *os.File or an fs.File) the kernel sends it directly
// with sendfile(2); from a TCP or unix stream socket it splices it through
// a pipe. Neither copies the data through user space.
func (c *TCPConn) ReadFrom(r io.Reader) (int64, error) {
	if !c.ok() {
		return 0, syscall.EINVAL
	}
	n, handled, err := sendFile(c.fd, r)
	if !handled {
		n, handled, err = spliceFrom(c.fd, r)
	}
	if !handled {
		n, err = io.Copy(ringfd.WriterOnly{Writer: c}, r)
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "raw-write" {
		err = oe.Err
	}
	if err != nil && err != io.EOF {
		err = c.fd.opErr("readfrom", err)
	}
	return n, err
}

// WriteTo copies the connection into w until EOF.
func (c *TCPConn) WriteTo(w io.Writer) (int64, error) {
	if !c.ok() {
		return 0, syscall.EINVAL
	}
	n, err := io.Copy(w, ringfd.ReaderOnly{Reader: c})
	if err != nil && err != io.EOF {
		err = c.fd.opErr("writeto", err)
	}
	return n, err
}

func boolint(b bool) int {
	if b {
		return 1
	}
	return 0
}

func roundSeconds(d time.Duration) time.Duration {
	return (d + time.Second - 1) / time.Second
}
