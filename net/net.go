// Package net is a drop-in for the standard net package's listeners and
// connections whose I/O goes through io_uring: Accept, Connect, Read and
// Write are ring operations, and a server's goroutines park on the ring's
// completions instead of the netpoller.
//
// Swap net.Listen for this package's Listen (and net.Dial or a net.Dialer
// for its Dial or Dialer) and keep the rest: the values returned are the
// standard interfaces (net.Conn, net.Listener, net.PacketConn), with the
// concrete types offering the extras of *net.TCPConn, *net.UnixConn and
// *net.UDPConn. Addresses are parsed and resolved as std does them, and
// errors are std's: *net.OpError with the same Op, Net, Source and Addr,
// net.ErrClosed after Close, os.ErrDeadlineExceeded (a Timeout) when a
// deadline passes.
//
// Where io_uring is unavailable every function returns std's own objects.
package net
