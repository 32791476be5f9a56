//go:build linux

package soak

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/goaio/uring/fs"
	unet "github.com/goaio/uring/net"
)

const (
	netSafety  = 10 * time.Second // no exchange on loopback takes this long: a hang
	serverLife = 60 * time.Second // a server conn's deadline, in case a client vanished
	maxPayload = 64 << 10
)

// The first byte a client sends picks what the echo server does.
const (
	modeEcho   = 'E' // Read and Write in a loop; now and then the server closes mid-stream
	modeSplice = 'C' // TCPConn.ReadFrom(itself): splice(2) through a pipe
	modeFile   = 'F' // TCPConn.ReadFrom(an fs.File): sendfile(2), then close
)

// echoServer accepts on a ring listener and serves each conn by its mode.
type echoServer struct {
	e     *env
	ln    net.Listener
	conns connSet
	wg    sync.WaitGroup
}

func (e *env) startEcho() (*echoServer, error) {
	lc := unet.ListenConfig{Ring: e.ring}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if _, ok := ln.(*unet.TCPListener); !ok {
		ln.Close()
		return nil, fmt.Errorf("net.Listen gave a %T, not the ring's listener", ln)
	}
	s := &echoServer{e: e, ln: ln}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func (s *echoServer) accept() {
	defer s.wg.Done()
	seed := rand.Uint64()
	for i := uint64(0); ; i++ {
		c, err := s.ln.Accept()
		if err != nil {
			s.e.check("echo Accept", err, cClosed)
			return
		}
		if !s.conns.add(c) {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.conns.remove(c)
			defer c.Close()
			s.serve(c, rand.New(rand.NewPCG(seed, i)))
		}()
	}
}

// serverAllowed is what a server conn may see: its own Close at the end,
// and a client that closed (or reset) under the exchange.
const serverAllowed = cClosed | cEOF | cPeer

func (s *echoServer) serve(c net.Conn, rng *rand.Rand) {
	e := s.e
	e.check("server SetDeadline", c.SetDeadline(time.Now().Add(serverLife)), cClosed)
	var mode [1]byte
	if _, err := io.ReadFull(c, mode[:]); err != nil {
		e.check("server read mode", err, serverAllowed)
		return
	}
	switch mode[0] {
	case modeEcho:
		buf := make([]byte, 32<<10)
		for {
			n, err := c.Read(buf)
			if err != nil {
				e.check("server echo Read", err, serverAllowed)
				return
			}
			if _, err := c.Write(buf[:n]); err != nil {
				e.check("server echo Write", err, serverAllowed)
				return
			}
			if rng.IntN(64) == 0 {
				e.rec.op("net.server-close-mid-stream")
				return // the deferred Close: the client sees EOF or a reset
			}
		}
	case modeSplice:
		_, err := c.(io.ReaderFrom).ReadFrom(c)
		e.check("server splice ReadFrom", err, serverAllowed)
	case modeFile:
		f, err := fs.Open(e.bigPath, fs.WithRing(e.ring))
		if err != nil {
			e.check("server fs.Open", err, 0)
			return
		}
		defer f.Close()
		if _, err := c.(io.ReaderFrom).ReadFrom(f); err != nil {
			e.check("server sendfile ReadFrom", err, serverAllowed)
		}
	default:
		e.rec.fail("echo server: unknown mode %q", mode[0])
	}
}

// close stops the server: the listener under its pending Accept, then every
// conn under its I/O. false if its goroutines did not end in time.
func (s *echoServer) close() bool {
	s.e.check("echo listener Close", s.ln.Close(), 0)
	s.conns.closeAll()
	return waitTimeout(&s.wg, netSafety)
}

// echoClient dials the server again and again, on the ring or with std,
// and runs exchanges with random short deadlines and Closes under I/O.
func (e *env) echoClient(addr string, onRing bool, rng *rand.Rand) {
	name := "std"
	if onRing {
		name = "ring"
	}
	for e.running() {
		ctx, cancel, provoked := callCtx(rng, netSafety, 300*time.Microsecond)
		var c net.Conn
		var err error
		if onRing {
			c, err = (&unet.Dialer{Ring: e.ring}).DialContext(ctx, "tcp", addr)
		} else {
			c, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		}
		cancel()
		if err != nil {
			e.netErr("dial "+name, err, provoked)
			continue
		}
		e.rec.op("net.dial " + name)
		e.echoConn(c, name, rng)
	}
}

// echoConn runs one connection: a mode, then exchanges until one fails or
// the count is done. It always closes c.
func (e *env) echoConn(c net.Conn, name string, rng *rand.Rand) {
	defer func() { e.check("client Close", c.Close(), cClosed) }()
	var mode byte
	switch x := rng.IntN(20); {
	case x < 12:
		mode = modeEcho
	case x < 17:
		mode = modeSplice
	default:
		mode = modeFile
	}
	e.check("client SetDeadline", c.SetDeadline(time.Now().Add(netSafety)), 0)
	if _, err := c.Write([]byte{mode}); err != nil {
		e.netErr("client write mode", err, 0)
		return
	}
	// The echo server may close mid-stream: EOF and resets are its doing.
	peer := class(0)
	if mode == modeEcho {
		peer = cEOF | cPeer
	}
	if mode == modeFile {
		provoked, undo := e.provoke(c, rng)
		got, err := io.ReadAll(c)
		if !undo() {
			provoked |= cClosed
		}
		where := "client sendfile " + name
		if e.verifyPrefix(where, got, e.big) && err == nil {
			if len(got) != len(e.big) {
				e.mismatch(where, got, e.big)
			} else {
				e.rec.op("net.sendfile verified " + name)
			}
		}
		e.netErr(where, err, provoked)
		return
	}
	payload := make([]byte, maxPayload)
	got := make([]byte, maxPayload)
	for range 1 + rng.IntN(20) {
		n := 1 + rng.IntN(maxPayload)
		fill(payload[:n], rng.Uint64())
		provoked, undo := e.provoke(c, rng)
		werr := make(chan error, 1)
		go func() {
			_, err := c.Write(payload[:n])
			werr <- err
		}()
		m, rerr := io.ReadFull(c, got[:n])
		wallowed := provoked | peer
		if rerr != nil {
			// The reader gave up: stop the writer too, which may wait
			// for room the server will not make while nobody reads.
			e.check("client SetWriteDeadline", c.SetWriteDeadline(time.Unix(1, 0)), cClosed)
			wallowed |= cDeadline
		}
		var wr error
		select {
		case wr = <-werr:
		case <-time.After(2 * netSafety):
			e.rec.fail("client %s: Write did not return within %v (hang)\n%s", name, 2*netSafety, goroutineDump())
			return
		}
		if !undo() {
			provoked |= cClosed // the Close fired: whatever is in flight may see it
		}
		where := fmt.Sprintf("client echo %s mode %c", name, mode)
		ok := e.verifyPrefix(where, got[:m], payload[:n])
		if rerr != nil || wr != nil {
			e.netErr(where+" Read", rerr, provoked|peer)
			e.netErr(where+" Write", wr, wallowed)
			return // the stream is out of step, or closed
		}
		if ok {
			e.rec.op("net.echo verified " + name)
		}
		if provoked&cClosed != 0 {
			return
		}
	}
	if mode == modeSplice {
		// End the splice with a half close and see the server's EOF.
		if tc, ok := c.(interface{ CloseWrite() error }); ok {
			e.check("client CloseWrite", tc.CloseWrite(), 0)
			var b [1]byte
			_, err := c.Read(b[:])
			if err != io.EOF {
				e.netErr("client splice read after CloseWrite", err, 0)
				if err == nil {
					e.rec.fail("client splice: data after the echo ended")
				}
			}
		}
	}
}

// provoke arms, at random, a short deadline or a Close at a random moment
// on c. undo disarms it for the next exchange; false when the Close
// already fired (c is closed). provoked is what the exchange may then see.
func (e *env) provoke(c net.Conn, rng *rand.Rand) (provoked class, undo func() bool) {
	switch x := rng.IntN(10); {
	case x < 7:
		return 0, func() bool { return true }
	case x < 8:
		e.rec.op("net.provoked-deadline")
		e.check("client SetDeadline", c.SetDeadline(time.Now().Add(randDur(rng, 2*time.Millisecond))), 0)
		return cDeadline, func() bool {
			return e.check("client SetDeadline", c.SetDeadline(time.Now().Add(netSafety)), cClosed) == 0
		}
	case x < 9:
		e.rec.op("net.provoked-past-read-deadline")
		fired := make(chan struct{})
		t := time.AfterFunc(randDur(rng, 2*time.Millisecond), func() {
			defer close(fired)
			e.check("client SetReadDeadline", c.SetReadDeadline(time.Unix(1, 0)), cClosed)
		})
		return cDeadline, func() bool {
			if !t.Stop() {
				<-fired // or it could move the next exchange's deadline
			}
			return e.check("client SetDeadline", c.SetDeadline(time.Now().Add(netSafety)), cClosed) == 0
		}
	default:
		e.rec.op("net.provoked-close")
		t := time.AfterFunc(randDur(rng, 2*time.Millisecond), func() { c.Close() })
		return cClosed, func() bool { return t.Stop() }
	}
}

// netErr accounts for a network call's error; with nothing provoked a
// deadline is the safety deadline, a hang.
func (e *env) netErr(where string, err error, allowed class) {
	if err == nil {
		return
	}
	if allowed&cDeadline == 0 && classify(err) == cDeadline {
		e.rec.fail("%s: did not complete within %v (hang): %v", where, netSafety, err)
		return
	}
	e.check(where, err, allowed)
}

// churnWorker makes short-lived ring listeners: a few dials against each,
// accepts with random deadlines, and a Close under a pending Accept and
// under dials in flight.
func (e *env) churnWorker(rng *rand.Rand) {
	lc := unet.ListenConfig{Ring: e.ring}
	for e.running() {
		ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			e.check("churn Listen", err, 0)
			return
		}
		tl, ok := ln.(*unet.TCPListener)
		if !ok {
			e.rec.fail("churn: Listen gave a %T, not the ring's listener", ln)
			ln.Close()
			return
		}
		addr := ln.Addr().String()
		// What the server side did with each conn, by the client's
		// address, for the report of a dial that hears nothing.
		var (
			smu      sync.Mutex
			served                 = map[string]string{}
			t0                     = time.Now()
			closedAt time.Duration = -1
		)
		note := func(raddr, what string) {
			smu.Lock()
			served[raddr] += fmt.Sprintf(" %s@%v", what, time.Since(t0).Round(time.Microsecond))
			smu.Unlock()
		}
		var wg sync.WaitGroup
		wg.Add(1)
		aseed := rng.Uint64()
		go func() {
			defer wg.Done()
			arng := rand.New(rand.NewPCG(aseed, 1))
			for {
				var dl time.Time
				if arng.IntN(3) == 0 {
					dl = time.Now().Add(randDur(arng, 3*time.Millisecond))
				}
				if err := tl.SetDeadline(dl); err != nil {
					e.check("churn SetDeadline", err, cClosed)
					return
				}
				c, err := ln.Accept()
				if err != nil {
					if e.check("churn Accept", err, cClosed|cDeadline) == cDeadline {
						e.rec.op("net.accept-deadline")
						continue
					}
					return
				}
				e.rec.op("net.churn accepted")
				raddr := c.RemoteAddr().String()
				note(raddr, "accepted")
				_, err = c.Write([]byte{'x'})
				e.check("churn server Write", err, cPeer)
				note(raddr, fmt.Sprintf("wrote(err %v)", err))
				c.Close()
				note(raddr, "closed")
			}
		}()
		for range rng.IntN(4) {
			wg.Add(1)
			dseed := rng.Uint64()
			go func() {
				defer wg.Done()
				drng := rand.New(rand.NewPCG(dseed, 2))
				ctx, cancel, provoked := callCtx(drng, netSafety, 500*time.Microsecond)
				defer cancel()
				var c net.Conn
				var err error
				kind := "ring"
				if drng.IntN(2) == 0 {
					c, err = (&unet.Dialer{Ring: e.ring}).DialContext(ctx, "tcp", addr)
				} else {
					kind = "std"
					c, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
				}
				if err != nil {
					// A dial may outlive the listener: refused, or reset.
					e.netErr("churn dial "+kind, err, provoked|cRefused|cPeer)
					return
				}
				dialed := time.Since(t0)
				defer c.Close()
				e.check("churn SetDeadline", c.SetDeadline(time.Now().Add(netSafety)), 0)
				// Send first: a dial that completes as the listener closes
				// can be left ESTABLISHED with no peer and no RST (seen with
				// std's dialer too); a byte sent makes the kernel answer
				// with a reset. And a dial connected to itself reads 'p'.
				_, err = c.Write([]byte{'p'})
				e.netErr("churn write "+kind, err, cPeer)
				var b [1]byte
				n, err := c.Read(b[:])
				if n == 1 && b[0] != 'x' {
					e.mismatch("churn read", b[:], []byte{'x'})
				}
				if n == 1 {
					e.rec.op("net.churn verified")
				}
				// A conn still in the accept queue at Close is closed for it.
				if err != nil && classify(err) == cDeadline {
					laddr := c.LocalAddr().String()
					smu.Lock()
					e.rec.fail("churn read (%s dialer): nothing within %v (hang): %v; dialed at %v, listener closed at %v, server side of %s:%s; listener:%s\nthe kernel's sockets on these ports:\n%s",
						kind, netSafety, err, dialed.Round(time.Microsecond), closedAt.Round(time.Microsecond), laddr, or(served[laddr], " never accepted"), served["listener"],
						tcpSockets(c.LocalAddr(), c.RemoteAddr()))
					smu.Unlock()
					return
				}
				e.netErr("churn read "+kind, err, cEOF|cPeer)
			}()
		}
		time.Sleep(randDur(rng, 5*time.Millisecond))
		note("listener", "closing")
		e.check("churn listener Close", ln.Close(), 0)
		smu.Lock()
		closedAt = time.Since(t0)
		smu.Unlock()
		e.rec.op("net.listener-close")
		if !waitTimeout(&wg, 2*netSafety) {
			e.rec.fail("churn: accept or dials did not end within %v of the listener's Close (hang)\n%s", 2*netSafety, goroutineDump())
			return
		}
	}
}

func or(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// tcpSockets lists the lines of /proc/net/tcp that involve the ports of a
// or b, with whether this process holds each socket (by inode), to tell
// what a silent peer is.
func tcpSockets(a, b net.Addr) string {
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return err.Error()
	}
	mine := map[string]string{}
	for fd, target := range fdTargets() {
		if ino, ok := strings.CutPrefix(target, "socket:["); ok {
			mine[strings.TrimSuffix(ino, "]")] = fd
		}
	}
	var ports []string
	for _, x := range []net.Addr{a, b} {
		if ta, ok := x.(*net.TCPAddr); ok {
			ports = append(ports, fmt.Sprintf(":%04X", ta.Port))
		}
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 {
			continue
		}
		for _, p := range ports {
			if strings.HasSuffix(f[1], p) || strings.HasSuffix(f[2], p) {
				owner := "not ours"
				if fd, ok := mine[f[9]]; ok {
					owner = "our fd " + fd
				}
				out = append(out, fmt.Sprintf("  local %s remote %s state %s inode %s (%s)", f[1], f[2], f[3], f[9], owner))
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
