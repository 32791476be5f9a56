//go:build !linux

package net

import (
	"context"
	"net"
)

// Without Linux there is no io_uring: listeners and connections are std's.

// Listen announces on the local network address, as net.ListenConfig.Listen.
func (lc *ListenConfig) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	return lc.std().Listen(ctx, network, address)
}

// ListenPacket announces on the local network address for datagrams.
func (lc *ListenConfig) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	return lc.std().ListenPacket(ctx, network, address)
}

// DialContext connects to address on network, as net.Dialer.DialContext.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return d.std().DialContext(ctx, network, address)
}
