package net

import (
	"context"
	"net"
	"syscall"
	"time"

	"github.com/goaio/uring"
)

// ListenConfig is net.ListenConfig for sockets on the ring. Control and
// KeepAlive mean what they mean in std; Ring picks the ring (default:
// uring.Default()). Where io_uring is unavailable, or Fallback is set, the
// listeners and connections are std's own.
type ListenConfig struct {
	Control         func(network, address string, c syscall.RawConn) error
	KeepAlive       time.Duration
	KeepAliveConfig net.KeepAliveConfig
	Ring            *uring.Ring
	Fallback        bool
}

func (lc *ListenConfig) std() *net.ListenConfig {
	return &net.ListenConfig{Control: lc.Control, KeepAlive: lc.KeepAlive, KeepAliveConfig: lc.KeepAliveConfig}
}

// Listen announces on the local network address, as net.Listen.
func Listen(network, address string) (net.Listener, error) {
	var lc ListenConfig
	return lc.Listen(context.Background(), network, address)
}

// ListenPacket announces on the local network address, as net.ListenPacket.
func ListenPacket(network, address string) (net.PacketConn, error) {
	var lc ListenConfig
	return lc.ListenPacket(context.Background(), network, address)
}

// Dialer is net.Dialer for connections on the ring: the connect is a ring
// operation, so Timeout, Deadline and the context's cancellation cancel it
// in the kernel. Fields mean what they mean in std; Ring picks the ring
// (default: uring.Default()); Fallback, or no io_uring, dials with std.
type Dialer struct {
	Timeout         time.Duration
	Deadline        time.Time
	LocalAddr       net.Addr
	KeepAlive       time.Duration
	KeepAliveConfig net.KeepAliveConfig
	Resolver        *net.Resolver
	Control         func(network, address string, c syscall.RawConn) error
	ControlContext  func(ctx context.Context, network, address string, c syscall.RawConn) error
	Ring            *uring.Ring
	Fallback        bool
}

func (d *Dialer) std() *net.Dialer {
	return &net.Dialer{Timeout: d.Timeout, Deadline: d.Deadline, LocalAddr: d.LocalAddr, KeepAlive: d.KeepAlive,
		KeepAliveConfig: d.KeepAliveConfig, Resolver: d.Resolver, Control: d.Control, ControlContext: d.ControlContext}
}

// Dial connects to address on network, as net.Dial.
func Dial(network, address string) (net.Conn, error) {
	var d Dialer
	return d.DialContext(context.Background(), network, address)
}

// DialTimeout is Dial with a timeout, as net.DialTimeout.
func DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	d := Dialer{Timeout: timeout}
	return d.DialContext(context.Background(), network, address)
}

// Dial connects to address on network.
func (d *Dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}
