// Package net is a drop-in for the standard net package's listeners and
// connections, with io_uring where it was measured to pay. Swap net.Listen
// for this package's Listen (and net.Dial or a net.Dialer for its Dial or
// Dialer) and keep the rest: the values returned are the standard
// interfaces (net.Conn, net.Listener, net.PacketConn), with the concrete
// types offering the extras of *net.TCPConn, *net.UnixConn and *net.UDPConn.
//
// Where each call goes (docs/design.md, "Receiving on stream sockets" and
// "Sending on stream sockets"):
//   - Listen and ListenPacket: std creates, binds and configures the socket
//     (so addresses, options, Control and errors are std's), then this
//     package takes its descriptor over. Accept returns a connection that the
//     ring accepted ahead of it.
//   - Dial: addresses are resolved as std resolves them, and the connect
//     is a ring operation, so a timeout or a cancelled context cancels it
//     in the kernel.
//   - Read on TCP and unix stream connections is that of an os.File on the
//     descriptor (read(2)); Write tries one non-blocking sendto(2) and gives
//     the rest to the os.File's Write. A call that finds the socket not
//     ready waits in Go's netpoller, as std's does. An idle
//     connection has no ring request in flight and holds less memory than
//     std's, and a deadline that ends a Read costs no kernel cancel.
//   - TCPConn.ReadFrom copies a regular file with sendfile(2) and a stream
//     socket with splice(2), without copying through user space; while the
//     connection has no room it waits with a poll on the ring, as the
//     Read and Write of SyscallConn's RawConn wait.
//   - On UDP and unixgram sockets every call (Read, Write, ReadFrom,
//     WriteTo, ReadMsgUDP, ReadMsgUnix and their Write forms) is one
//     non-blocking recvfrom or sendto (recvmsg or sendmsg with control
//     data) waiting in Go's netpoller, as std's: a request on the ring per
//     datagram was measured slower (docs/design.md, "Datagrams").
//     unixpacket connections move each message with a request on the ring.
//
// Errors are std's: *net.OpError with the same Op, Net, Source and Addr,
// net.ErrClosed after Close, os.ErrDeadlineExceeded (a Timeout) when a
// deadline passes; moving a deadline takes effect on a blocked call.
//
// Where io_uring is unavailable, or with Fallback set in a ListenConfig or
// Dialer, every function returns std's own objects.
package net
