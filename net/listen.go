//go:build linux

package net

import (
	"context"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/internal/ringfd"
)

// Listen announces on the local network address, as net.ListenConfig.Listen:
// std creates, binds and configures the socket (so addresses, options and
// errors are std's), and the ring takes it over for Accept.
func (lc *ListenConfig) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	ln, err := lc.std().Listen(ctx, network, address)
	if err != nil {
		return nil, err
	}
	r := ringfd.RingFor(lc.Ring, lc.Fallback)
	if r == nil {
		return ln, nil
	}
	switch l := ln.(type) {
	case *net.TCPListener:
		fd, err := adopt(r, l, network, unix.SOCK_STREAM)
		if err != nil {
			return nil, err
		}
		return &TCPListener{newListener(fd, lc)}, nil
	case *net.UnixListener:
		l.SetUnlinkOnClose(false) // the socket file is ours to remove now
		fd, err := adopt(r, l, network, sotypeOf(network))
		if err != nil {
			return nil, err
		}
		ul := &UnixListener{listener: newListener(fd, lc)}
		if path := l.Addr().String(); path != "" && path[0] != '@' {
			ul.path = path // an abstract socket has no file
			fd.accept.unlink = path
		}
		return ul, nil
	}
	return ln, nil
}

// ListenPacket announces on the local network address for datagrams, as
// net.ListenConfig.ListenPacket.
func (lc *ListenConfig) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	pc, err := lc.std().ListenPacket(ctx, network, address)
	if err != nil {
		return nil, err
	}
	r := ringfd.RingFor(lc.Ring, lc.Fallback)
	if r == nil {
		return pc, nil
	}
	switch c := pc.(type) {
	case *net.UDPConn:
		fd, err := adopt(r, c, network, unix.SOCK_DGRAM)
		if err != nil {
			return nil, err
		}
		return &UDPConn{conn{fd}}, nil
	case *net.UnixConn:
		fd, err := adopt(r, c, network, unix.SOCK_DGRAM)
		if err != nil {
			return nil, err
		}
		return &UnixConn{conn{fd}}, nil
	}
	return pc, nil
}

// adopt takes over the socket of a std listener or packet conn: a duplicate
// of its descriptor (non-blocking, close-on-exec) becomes ours and std's
// object is closed.
func adopt(r *uring.Ring, c interface {
	syscall.Conn
	Close() error
}, network string, sotype int) (*netFD, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	nfd, family := -1, 0
	var derr error
	_ = rc.Control(func(s uintptr) {
		nfd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
		family, _ = unix.GetsockoptInt(int(s), unix.SOL_SOCKET, unix.SO_DOMAIN)
	})
	c.Close()
	if derr != nil {
		return nil, os.NewSyscallError("dup", derr)
	}
	fd := newFD(r, nfd, family, sotype, network)
	fd.setAddrs()
	if sotype == unix.SOCK_DGRAM { // a listener's accepts stay on the ring
		if err := fd.initPoll(); err != nil {
			fd.Close()
			return nil, err
		}
	} else {
		fd.track()
	}
	return fd, nil
}

func sotypeOf(network string) int {
	switch network {
	case "unixpacket":
		return unix.SOCK_SEQPACKET
	case "unixgram", "udp", "udp4", "udp6":
		return unix.SOCK_DGRAM
	}
	return unix.SOCK_STREAM
}

// listener accepts through the ring.
type listener struct {
	fd *netFD
	lc ListenConfig

	mu sync.Mutex // one Accept takes from the queue at a time, as std's fdMutex
}

func newListener(fd *netFD, lc *ListenConfig) listener {
	fd.accept = newAcceptQueue(fd.sock)
	return listener{fd: fd, lc: *lc}
}

func (l *listener) ok() bool { return l != nil && l.fd != nil }

// accept takes the next connection: a new non-blocking, close-on-exec fd.
func (l *listener) accept() (*netFD, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.fd.Incref(); err != nil {
		return nil, err
	}
	defer l.fd.Decref()
	c, err := l.fd.accept.next(&l.fd.RD)
	if err != nil {
		return nil, l.fd.Err(context.Background(), "accept", err)
	}
	fd := newFD(l.fd.Ring, c.fd, int(l.fd.family), int(l.fd.sotype), l.fd.netName())
	fd.setPeer(&c.peer)
	if err := fd.initPoll(); err != nil {
		fd.Close()
		return nil, err
	}
	return fd, nil
}

func acceptRetry(err error) bool {
	return err == unix.ECONNABORTED || err == unix.EINTR
}

// Close stops listening; a blocked Accept returns net.ErrClosed.
func (l *listener) Close() error {
	if !l.ok() {
		return syscall.EINVAL
	}
	if err := l.fd.Close(); err != nil {
		if oe, ok := err.(*net.OpError); ok {
			return l.fd.localErr("close", oe.Err)
		}
		return err
	}
	return nil
}

// Addr returns the listener's address.
func (l *listener) Addr() net.Addr { return l.fd.localAddr() }

// SetDeadline sets the deadline for Accept.
func (l *listener) SetDeadline(t time.Time) error {
	if !l.ok() {
		return syscall.EINVAL
	}
	if err := l.fd.setDeadline(t, true, false); err != nil {
		return net.ErrClosed // std's listeners return it bare
	}
	return nil
}

// SyscallConn returns the listening socket's raw connection.
func (l *listener) SyscallConn() (syscall.RawConn, error) {
	if !l.ok() {
		return nil, syscall.EINVAL
	}
	return rawConn{l.fd}, nil
}

// File returns a copy of the listening socket as an *os.File.
func (l *listener) File() (*os.File, error) {
	if !l.ok() {
		return nil, syscall.EINVAL
	}
	f, err := l.fd.file("file")
	if oe, ok := err.(*net.OpError); ok {
		err = l.fd.localErr("file", oe.Err)
	}
	return f, err
}

// TCPListener is a TCP listener whose Accept goes through the ring.
type TCPListener struct{ listener }

var _ net.Listener = (*TCPListener)(nil)

// Accept waits for and returns the next connection, a *TCPConn with
// TCP_NODELAY and keep-alive set as std sets them.
func (l *TCPListener) Accept() (net.Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err // an untyped nil: not a nil *TCPConn in the interface
	}
	return c, nil
}

// AcceptTCP is Accept returning the concrete type.
func (l *TCPListener) AcceptTCP() (*TCPConn, error) {
	if !l.ok() {
		return nil, syscall.EINVAL
	}
	fd, err := l.accept()
	if err != nil {
		return nil, l.fd.localErr("accept", err)
	}
	c := &TCPConn{conn{fd}}
	_ = c.SetNoDelay(true)
	keepAlive(c, l.lc.KeepAlive, l.lc.KeepAliveConfig)
	return c, nil
}

// keepAlive applies std's keep-alive defaults: on, 15 s, unless disabled.
func keepAlive(c *TCPConn, period time.Duration, cfg net.KeepAliveConfig) {
	if cfg.Enable {
		_ = c.SetKeepAliveConfig(cfg)
		return
	}
	if period >= 0 {
		if period == 0 {
			period = 15 * time.Second
		}
		_ = c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: period})
	}
}

// UnixListener is a unix-socket listener whose Accept goes through the ring.
type UnixListener struct {
	listener
	path string // the socket file Listen created
}

// SetUnlinkOnClose sets whether Close removes the socket file, as
// *net.UnixListener's does; by default it does when Listen created it.
func (l *UnixListener) SetUnlinkOnClose(unlink bool) {
	if l.path == "" {
		return
	}
	if unlink {
		l.fd.accept.unlink = l.path
	} else {
		l.fd.accept.unlink = ""
	}
}

var _ net.Listener = (*UnixListener)(nil)

// Accept waits for and returns the next connection, a *UnixConn.
func (l *UnixListener) Accept() (net.Conn, error) {
	c, err := l.AcceptUnix()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// AcceptUnix is Accept returning the concrete type.
func (l *UnixListener) AcceptUnix() (*UnixConn, error) {
	if !l.ok() {
		return nil, syscall.EINVAL
	}
	fd, err := l.accept()
	if err != nil {
		return nil, l.fd.localErr("accept", err)
	}
	return &UnixConn{conn{fd}}, nil
}
