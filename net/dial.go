//go:build linux

package net

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/internal/ringfd"
	"github.com/goaio/uring/ops"
)

// DialContext connects to address on network, as net.Dialer.DialContext:
// each resolved address is tried in turn, within the deadline, and the first
// connection wins.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	r := ringfd.RingFor(d.Ring, d.Fallback)
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6", "unix", "unixgram", "unixpacket":
	default:
		r = nil // raw IP, or not a network: std's own dial and errors
	}
	if r == nil {
		return d.std().DialContext(ctx, network, address)
	}
	if ctx == nil {
		panic("nil context")
	}
	deadline := d.deadline(ctx, time.Now())
	if !deadline.IsZero() {
		if dl, ok := ctx.Deadline(); !ok || deadline.Before(dl) {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline)
			defer cancel()
		}
	}
	opErr := func(addr net.Addr, err error) error {
		return &net.OpError{Op: "dial", Net: network, Source: d.LocalAddr, Addr: addr, Err: err}
	}
	addrs, err := d.resolve(ctx, network, address)
	if err != nil {
		// As std: a resolution error names neither end.
		return nil, &net.OpError{Op: "dial", Net: network, Err: mapCtxErr(err)}
	}
	var first error
	for i, ra := range addrs {
		actx := ctx
		if dl, ok := ctx.Deadline(); ok && len(addrs)-i > 1 {
			// Leave time for the rest, as std's dialSerial does.
			part := time.Until(dl) / time.Duration(len(addrs)-i)
			if part < 2*time.Second {
				part = min(2*time.Second, time.Until(dl))
			}
			var cancel context.CancelFunc
			actx, cancel = context.WithDeadline(ctx, time.Now().Add(part))
			defer cancel()
		}
		c, err := d.dialOne(actx, r, network, address, ra)
		// As std: when the kernel picks the local port, a TCP dial to a
		// port nobody listens on can connect to itself (the kernel chose
		// the destination port as the source), and a picked port can be
		// taken (EADDRNOTAVAIL). Try again, twice at most, then relent.
		if _, ok := ra.(*net.TCPAddr); ok && d.kernelPicksPort() {
			for i := 0; i < 2 && (selfConnect(c, err) || spuriousENOTAVAIL(err)); i++ {
				if err == nil {
					c.Close()
				}
				c, err = d.dialOne(actx, r, network, address, ra)
			}
		}
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = opErr(ra, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// kernelPicksPort reports whether the dial leaves the local port to the kernel.
func (d *Dialer) kernelPicksPort() bool {
	la, ok := d.LocalAddr.(*net.TCPAddr)
	return d.LocalAddr == nil || ok && (la == nil || la.Port == 0)
}

// selfConnect reports whether c is a TCP connection to itself, as std's.
func selfConnect(c net.Conn, err error) bool {
	if err != nil {
		return false
	}
	l, lok := c.LocalAddr().(*net.TCPAddr)
	r, rok := c.RemoteAddr().(*net.TCPAddr)
	if !lok || !rok {
		return true // as std: no addresses, try again
	}
	return l.Port == r.Port && l.IP.Equal(r.IP)
}

// spuriousENOTAVAIL reports whether err is the EADDRNOTAVAIL of a local
// port the kernel picked that was in use, as std's.
func spuriousENOTAVAIL(err error) bool {
	return errors.Is(err, syscall.EADDRNOTAVAIL)
}

func (d *Dialer) deadline(ctx context.Context, now time.Time) time.Time {
	var earliest time.Time
	if d.Timeout != 0 {
		earliest = now.Add(d.Timeout)
	}
	if dl, ok := ctx.Deadline(); ok && (earliest.IsZero() || dl.Before(earliest)) {
		earliest = dl
	}
	if !d.Deadline.IsZero() && (earliest.IsZero() || d.Deadline.Before(earliest)) {
		earliest = d.Deadline
	}
	return earliest
}

// resolve turns address into the addresses to try, with std's parsing,
// lookups and errors.
func (d *Dialer) resolve(ctx context.Context, network, address string) ([]net.Addr, error) {
	if address == "" {
		return nil, errMissingAddress
	}
	switch network {
	case "unix", "unixgram", "unixpacket":
		a, err := net.ResolveUnixAddr(network, address)
		if err != nil {
			return nil, err
		}
		if d.LocalAddr != nil && a.Network() != d.LocalAddr.Network() {
			return nil, &net.AddrError{Err: "mismatched local address type", Addr: d.LocalAddr.String()}
		}
		return []net.Addr{a}, nil
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	res := d.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	portnum, err := res.LookupPort(ctx, network, port)
	if err != nil {
		return nil, err
	}
	var ips []netip.Addr
	if host == "" {
		ips = []netip.Addr{netip.IPv4Unspecified()}
	} else if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		if ips, err = res.LookupNetIP(ctx, "ip", host); err != nil {
			return nil, err
		}
	}
	var out []net.Addr
	for _, ip := range ips {
		v4 := ip.Unmap().Is4()
		if (network[len(network)-1] == '4' && !v4) || (network[len(network)-1] == '6' && v4) {
			continue
		}
		ip = ip.Unmap()
		if network[0] == 'u' {
			out = append(out, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(portnum))))
		} else {
			out = append(out, net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(portnum))))
		}
	}
	if len(out) == 0 {
		return nil, &net.AddrError{Err: "no suitable address found", Addr: host}
	}
	if out, err = matchLocal(out, d.LocalAddr); err != nil {
		return nil, err
	}
	// std's order: the resolver's (RFC 6724), the first address's family
	// (the primaries) before the other (the fallbacks). std also races the
	// fallbacks after 300 ms; here they follow once the primaries fail.
	primaries := out[:0:0]
	var fallbacks []net.Addr
	first := ipOf(out[0]).To4() != nil
	for _, a := range out {
		if (ipOf(a).To4() != nil) == first {
			primaries = append(primaries, a)
		} else {
			fallbacks = append(fallbacks, a)
		}
	}
	return append(primaries, fallbacks...), nil
}

var errMissingAddress = errors.New("missing address")

// matchLocal keeps the addresses a dial from local can reach, with std's
// errors: a local address of another network, or of the other IP family.
func matchLocal(addrs []net.Addr, local net.Addr) ([]net.Addr, error) {
	if local == nil {
		return addrs, nil
	}
	lip := ipOf(local)
	wild := func(ip net.IP) bool { return ip == nil || ip.IsUnspecified() }
	same := func(a, b net.IP) bool { return (a.To4() != nil) == (b.To4() != nil) }
	var out []net.Addr
	for _, a := range addrs {
		if a.Network() != local.Network() {
			return nil, &net.AddrError{Err: "mismatched local address type", Addr: local.String()}
		}
		if ip := ipOf(a); wild(lip) || wild(ip) || same(ip, lip) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, &net.AddrError{Err: "no suitable address found", Addr: local.String()}
	}
	return out, nil
}

func ipOf(a net.Addr) net.IP {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP
	case *net.UDPAddr:
		return a.IP
	}
	return nil
}

// dialOne creates a socket for ra and connects it through the ring.
func (d *Dialer) dialOne(ctx context.Context, r *uring.Ring, network, address string, ra net.Addr) (net.Conn, error) {
	family := unix.AF_UNIX
	if ip := ipOf(ra); ip != nil {
		family = unix.AF_INET6
		if ip.To4() != nil && network[len(network)-1] != '6' {
			family = unix.AF_INET
		}
	}
	sotype := sotypeOf(network)
	s, err := unix.Socket(family, sotype|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	fd := newFD(r, s, family, sotype, network)
	fail := func(err error) (net.Conn, error) {
		fd.Close()
		return nil, err
	}
	if family == unix.AF_INET6 {
		_ = unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
	}
	if sotype == unix.SOCK_DGRAM && family != unix.AF_UNIX {
		_ = unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
	}
	if d.ControlContext != nil || d.Control != nil {
		var cerr error
		if d.ControlContext != nil {
			cerr = d.ControlContext(ctx, network+familySuffix(family, network), ra.String(), rawConn{fd})
		} else {
			cerr = d.Control(network+familySuffix(family, network), ra.String(), rawConn{fd})
		}
		if cerr != nil {
			return fail(cerr)
		}
	}
	if d.LocalAddr != nil {
		lsa, err := addrToSockaddr(family, d.LocalAddr)
		if err != nil {
			return fail(err)
		}
		if err := unix.Bind(s, lsa); err != nil {
			return fail(os.NewSyscallError("bind", err))
		}
	}
	rsa, err := addrToSockaddr(family, ra)
	if err != nil {
		return fail(err)
	}
	if _, err := r.Do(ctx, ops.Connect(s, rsa)); err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return fail(os.NewSyscallError("connect", errno))
		}
		return fail(mapCtxErr(err))
	}
	fd.setAddrs()
	if err := fd.initPoll(); err != nil {
		return fail(err)
	}
	switch sotype {
	case unix.SOCK_DGRAM:
		if family == unix.AF_UNIX {
			return &UnixConn{conn{fd}}, nil
		}
		return &UDPConn{conn{fd}}, nil
	}
	if family == unix.AF_UNIX {
		return &UnixConn{conn{fd}}, nil
	}
	c := &TCPConn{conn{fd}}
	_ = c.SetNoDelay(true)
	keepAlive(c, d.KeepAlive, d.KeepAliveConfig)
	return c, nil
}

// familySuffix is the network name std hands to Control: "tcp4", "udp6".
func familySuffix(family int, network string) string {
	if family == unix.AF_UNIX || network[len(network)-1] == '4' || network[len(network)-1] == '6' {
		return ""
	}
	if family == unix.AF_INET {
		return "4"
	}
	return "6"
}

// mapCtxErr gives a context's end std's dial errors: "i/o timeout" (a
// Timeout) or "operation was canceled".
func mapCtxErr(err error) error {
	switch err {
	case context.DeadlineExceeded:
		return errTimeout
	case context.Canceled:
		return errCanceled
	}
	return err
}

var errCanceled = canceledError{}

// errTimeout is std's dial timeout: "i/o timeout", a Timeout, and
// errors.Is context.DeadlineExceeded (not os.ErrDeadlineExceeded).
var errTimeout error = &timeoutError{}

type timeoutError struct{}

func (e *timeoutError) Error() string     { return "i/o timeout" }
func (e *timeoutError) Timeout() bool     { return true }
func (e *timeoutError) Temporary() bool   { return true }
func (e *timeoutError) Is(err error) bool { return err == context.DeadlineExceeded }

type canceledError struct{}

func (canceledError) Error() string     { return "operation was canceled" }
func (canceledError) Is(err error) bool { return err == context.Canceled }
