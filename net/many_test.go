//go:build linux

package net_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// e2eManyConns is how many echo connections TestManyConnections holds open
// at once. Under -race it takes about 4 s on 2 cores, so it is not scaled down.
const e2eManyConns = 5000

// e2eRaiseNofile makes room for need open files, restoring the limit after
// t, or skips t when the hard limit is lower.
func e2eRaiseNofile(t *testing.T, need uint64) {
	var rl syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl))
	if rl.Cur >= need {
		return
	}
	if rl.Max < need {
		t.Skipf("needs %d open files; RLIMIT_NOFILE's hard limit is %d and cannot be raised without privilege", need, rl.Max)
	}
	old := rl
	rl.Cur = need
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Skipf("needs %d open files; raising RLIMIT_NOFILE from %d failed: %v", need, old.Cur, err)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}

// e2ePair returns a connected pair over network: the dialed end (through
// the package's Dialer) and the accepted end (from the package's listener).
func e2ePair(t *testing.T, env e2eEnv, network string) (dialed, accepted net.Conn) {
	t.Helper()
	ln := env.listen(t, network)
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	dialed, err := env.dialer().Dial(network, ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { dialed.Close() })
	r := <-ch
	require.NoError(t, r.err)
	t.Cleanup(func() { r.c.Close() })
	env.checkType(t, dialed)
	env.checkType(t, r.c)
	return dialed, r.c
}

// e2ePayload is connection i's unique data.
func e2ePayload(i int) []byte {
	b := make([]byte, 1024+i%1024)
	for j := range b {
		b[j] = byte(i*31 + j*7 + j>>8)
	}
	return b
}

// TestManyConnections: e2eManyConns echo connections open at once (every
// one dialed and accepted before any sends), each echoing its own payload
// back exactly, to EOF.
func TestManyConnections(t *testing.T) {
	e2eRaiseNofile(t, 2*e2eManyConns+1000)
	e2eRun(t, func(t *testing.T, env e2eEnv) {
		ln := env.listen(t, "tcp")
		var open, peak atomic.Int64
		var srvWG sync.WaitGroup
		srvWG.Add(1)
		go func() {
			defer srvWG.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				if n := open.Add(1); n > peak.Load() {
					peak.Store(n) // only this goroutine stores
				}
				srvWG.Add(1)
				go func() {
					defer srvWG.Done()
					defer open.Add(-1)
					defer c.Close()
					// Plain Read and Write: io.Copy(c, c) would take std's
					// splice on the fallback, whose pipes (two fds per
					// connection, pooled until a GC) need twice the fds.
					buf := make([]byte, 4096)
					_, _ = io.CopyBuffer(struct{ io.Writer }{c}, struct{ io.Reader }{c}, buf)
				}()
			}
		}()
		defer func() {
			ln.Close()
			srvWG.Wait()
		}()

		start := make(chan struct{})
		errs := make(chan error, e2eManyConns)
		dialSem := make(chan struct{}, 256) // stay inside the SYN backlog
		var dialed, cliWG sync.WaitGroup
		dialed.Add(e2eManyConns)
		for i := range e2eManyConns {
			cliWG.Add(1)
			go func() {
				defer cliWG.Done()
				dialSem <- struct{}{}
				c, err := env.dialer().Dial("tcp", ln.Addr().String())
				<-dialSem
				dialed.Done()
				if err != nil {
					errs <- fmt.Errorf("conn %d: dial: %w", i, err)
					return
				}
				defer c.Close()
				<-start
				want := e2ePayload(i)
				if _, err := c.Write(want); err != nil {
					errs <- fmt.Errorf("conn %d: write: %w", i, err)
					return
				}
				if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
					errs <- fmt.Errorf("conn %d: close write: %w", i, err)
					return
				}
				got, err := io.ReadAll(c)
				if err != nil {
					errs <- fmt.Errorf("conn %d: read: %w", i, err)
					return
				}
				if !bytes.Equal(want, got) {
					errs <- fmt.Errorf("conn %d: echoed %d bytes, want %d, equal prefix %v", i, len(got), len(want), bytes.HasPrefix(want, got))
				}
			}()
		}
		dialed.Wait()
		// Every connection is open on both sides before any data moves.
		deadline := time.Now().Add(20 * time.Second)
		for open.Load() < e2eManyConns && len(errs) == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		close(start)
		cliWG.Wait()
		close(errs)
		n := 0
		for err := range errs {
			if n++; n <= 5 {
				t.Error(err)
			}
		}
		require.Zero(t, n, "connections failed")
		require.EqualValues(t, e2eManyConns, peak.Load(), "connections open at once on the server")
	})
}

// TestManyPeerReset: a peer that resets (SetLinger(0), Close) while the
// other end is blocked in Read makes that Read fail as std's does:
// "read tcp L->R: read: connection reset by peer", errors.Is ECONNRESET;
// a Write after it fails with EPIPE.
func TestManyPeerReset(t *testing.T) {
	e2eRun(t, func(t *testing.T, env e2eEnv) {
		for _, side := range []string{"accepted reads", "dialed reads"} {
			t.Run(side, func(t *testing.T) {
				reader, peer := e2ePair(t, env, "tcp")
				if side == "accepted reads" {
					peer, reader = reader, peer
				}
				// Some data first: the reset comes mid-conversation.
				_, err := peer.Write([]byte("abc"))
				require.NoError(t, err)
				buf := make([]byte, 64)
				n, err := io.ReadFull(reader, buf[:3])
				require.NoError(t, err)
				require.Equal(t, "abc", string(buf[:n]))

				type res struct {
					n   int
					err error
				}
				done := make(chan res, 1)
				go func() {
					n, err := reader.Read(buf)
					done <- res{n, err}
				}()
				time.Sleep(50 * time.Millisecond) // let the Read block in the kernel
				select {
				case r := <-done:
					t.Fatalf("Read returned %d, %v before the reset", r.n, r.err)
				default:
				}
				require.NoError(t, peer.(interface{ SetLinger(int) error }).SetLinger(0))
				require.NoError(t, peer.Close())

				var r res
				select {
				case r = <-done:
				case <-time.After(10 * time.Second):
					t.Fatal("Read still blocked 10 s after the peer reset")
				}
				require.Equal(t, 0, r.n)
				require.ErrorIs(t, r.err, syscall.ECONNRESET)
				var oe *net.OpError
				require.ErrorAs(t, r.err, &oe)
				require.Equal(t, "read", oe.Op)
				require.Equal(t, "tcp", oe.Net)
				var se *os.SyscallError
				require.ErrorAs(t, r.err, &se)
				require.Equal(t, "read", se.Syscall)
				require.Equal(t, fmt.Sprintf("read tcp %v->%v: read: connection reset by peer", reader.LocalAddr(), reader.RemoteAddr()), r.err.Error())

				_, err = reader.Write([]byte("x"))
				require.ErrorIs(t, err, syscall.EPIPE)
				require.ErrorAs(t, err, &oe)
				require.Equal(t, "write", oe.Op)
			})
		}
	})
}

// e2ePattern fills b with the stream's bytes from offset off.
func e2ePattern(b []byte, off int64) {
	for i := range b {
		b[i] = byte((off + int64(i)) % 251)
	}
}

// TestManyPeerNeverReads: writing to a peer that never reads fills the
// socket buffers, then the write deadline fails Write with
// os.ErrDeadlineExceeded (a timeout), and the count Write returns is exact:
// once the peer reads, it gets precisely the bytes reported written.
func TestManyPeerNeverReads(t *testing.T) {
	e2eRun(t, func(t *testing.T, env e2eEnv) {
		e2eNetworks(t, func(t *testing.T, network string) {
			w, peer := e2ePair(t, env, network)
			const timeout = 300 * time.Millisecond
			chunk := make([]byte, 64<<10)
			var written int64
			begin := time.Now()
			require.NoError(t, w.SetWriteDeadline(begin.Add(timeout)))
			var err error
			for writes := 0; ; writes++ {
				e2ePattern(chunk, written)
				var n int
				n, err = w.Write(chunk)
				require.GreaterOrEqual(t, n, 0)
				require.LessOrEqual(t, n, len(chunk))
				written += int64(n)
				if err != nil {
					break
				}
				require.Less(t, writes, 1<<14, "1 GiB written to a peer that never reads")
			}
			elapsed := time.Since(begin)
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)
			var ne net.Error
			require.ErrorAs(t, err, &ne)
			require.True(t, ne.Timeout())
			var oe *net.OpError
			require.ErrorAs(t, err, &oe)
			require.Equal(t, "write", oe.Op)
			require.Positive(t, written, "nothing fit in the socket buffers")
			require.GreaterOrEqual(t, elapsed, timeout-10*time.Millisecond, "deadline fired early")
			require.Less(t, elapsed, timeout+5*time.Second, "deadline fired late")

			// Past the deadline, Write fails at once and sends nothing.
			e2ePattern(chunk, written)
			n, err := w.Write(chunk)
			require.Equal(t, 0, n)
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)

			// The peer now reads everything: exactly what was reported
			// written, then a final chunk, then EOF.
			type res struct {
				n   int64
				err error
			}
			got := make(chan res, 1)
			go func() {
				var off int64
				buf := make([]byte, 64<<10)
				want := make([]byte, len(buf))
				for {
					n, err := peer.Read(buf)
					e2ePattern(want[:n], off)
					if !bytes.Equal(want[:n], buf[:n]) {
						got <- res{off, fmt.Errorf("stream differs within bytes %d..%d", off, off+int64(n))}
						return
					}
					off += int64(n)
					if err == io.EOF {
						got <- res{off, nil}
						return
					}
					if err != nil {
						got <- res{off, err}
						return
					}
				}
			}()
			require.NoError(t, w.SetWriteDeadline(time.Time{}))
			e2ePattern(chunk, written)
			n, err = w.Write(chunk)
			require.NoError(t, err)
			require.Equal(t, len(chunk), n)
			written += int64(n)
			require.NoError(t, w.(interface{ CloseWrite() error }).CloseWrite())
			r := <-got
			require.NoError(t, r.err)
			require.Equal(t, written, r.n, "bytes the peer read vs bytes Write reported")
		})
	})
}

// TestManyListenerClosedUnderLoad: closing a listener while clients keep
// dialing and several goroutines Accept: every Accept returns net.ErrClosed
// (as a *net.OpError "accept"), later dials are refused, nothing panics,
// and no goroutine is left behind (e2eRun's leak check).
func TestManyListenerClosedUnderLoad(t *testing.T) {
	e2eRun(t, func(t *testing.T, env e2eEnv) {
		e2eNetworks(t, func(t *testing.T, network string) {
			ln := env.listen(t, network)
			addr := ln.Addr().String()
			var accepted atomic.Int64
			const acceptors = 4
			acceptErrs := make(chan error, acceptors)
			var conns sync.WaitGroup
			for range acceptors {
				go func() {
					for {
						c, err := ln.Accept()
						if err != nil {
							acceptErrs <- err
							return
						}
						accepted.Add(1)
						conns.Add(1)
						go func() {
							defer conns.Done()
							_, _ = c.Write([]byte("hi"))
							c.Close()
						}()
					}
				}()
			}

			var stop atomic.Bool
			var dials, refused atomic.Int64
			var dialers sync.WaitGroup
			for range 16 {
				dialers.Add(1)
				go func() {
					defer dialers.Done()
					d := env.dialer()
					for !stop.Load() {
						c, err := d.Dial(network, addr)
						if err != nil {
							refused.Add(1)
							continue
						}
						dials.Add(1)
						// The server writes "hi" and closes, or the kernel
						// resets a connection still queued when the
						// listener closes: either ends the read.
						_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
						_, _ = io.Copy(io.Discard, c)
						c.Close()
					}
				}()
			}

			require.Eventually(t, func() bool { return accepted.Load() >= 300 }, 20*time.Second, time.Millisecond)
			require.NoError(t, ln.Close())
			for range acceptors {
				select {
				case err := <-acceptErrs:
					require.ErrorIs(t, err, net.ErrClosed)
					var oe *net.OpError
					require.ErrorAs(t, err, &oe)
					require.Equal(t, "accept", oe.Op)
				case <-time.After(10 * time.Second):
					t.Fatal("Accept still blocked 10 s after Close")
				}
			}
			// Dialers keep going against the closed listener.
			refusedAtClose := refused.Load()
			require.Eventually(t, func() bool { return refused.Load() > refusedAtClose+100 }, 10*time.Second, time.Millisecond)
			stop.Store(true)
			dialers.Wait()
			conns.Wait()

			_, err := ln.Accept()
			require.ErrorIs(t, err, net.ErrClosed)
			require.Error(t, ln.Close())
			t.Logf("accepted %d, dialed %d, refused %d", accepted.Load(), dials.Load(), refused.Load())
		})
	})
}

// TestManyCloseRacesIO: Close racing a Read, a Write or an Accept that is
// just starting (not yet parked) unblocks it with net.ErrClosed and returns:
// a call that took its reference before Close but reached the kernel after
// Close's cancel must not be left waiting for data that never comes.
func TestManyCloseRacesIO(t *testing.T) {
	const rounds, workers = 200, 8
	e2eRaiseNofile(t, 2*rounds*workers+512) // the peers hold every connection open
	e2eRun(t, func(t *testing.T, env e2eEnv) {
		ln := env.listen(t, "tcp")
		var peers sync.WaitGroup
		peers.Add(1)
		go func() {
			defer peers.Done()
			var held []net.Conn // open and silent: only Close ends the calls below
			defer func() {
				for _, c := range held {
					c.Close()
				}
			}()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				held = append(held, c)
			}
		}()
		// race runs call in a goroutine, closes at once, and checks both
		// return, the call with net.ErrClosed.
		race := func(what string, call func() error, close func() error) error {
			done := make(chan error, 1)
			go func() { done <- call() }()
			closed := make(chan error, 1)
			go func() { closed <- close() }()
			select {
			case err := <-done:
				if !errors.Is(err, net.ErrClosed) {
					return fmt.Errorf("%s racing Close: %v, want net.ErrClosed", what, err)
				}
			case <-time.After(10 * time.Second):
				return fmt.Errorf("%s not unblocked 10 s after Close", what)
			}
			select {
			case err := <-closed:
				return err
			case <-time.After(10 * time.Second):
				return fmt.Errorf("Close racing %s hung", what)
			}
		}
		// More than the socket buffers hold (the sender's is shrunk below and
		// the peers never read), so the Write blocks. Kept small: -race
		// annotates the whole buffer on every send.
		big := make([]byte, 1<<20)
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for g := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range rounds {
					c, err := env.dialer().Dial("tcp", ln.Addr().String())
					if err != nil {
						errs <- err
						return
					}
					if err := c.(interface{ SetWriteBuffer(int) error }).SetWriteBuffer(16 << 10); err != nil {
						errs <- err
						return
					}
					call := func() error { _, err := c.Read(make([]byte, 1)); return err }
					what := "Read"
					if (g+i)%2 == 1 {
						call = func() error { _, err := c.Write(big); return err }
						what = "Write"
					}
					if err := race(what, call, c.Close); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for range rounds {
			l := env.listen(t, "tcp")
			if err := race("Accept", func() error { _, err := l.Accept(); return err }, l.Close); err != nil {
				t.Fatal(err)
			}
		}
		ln.Close()
		peers.Wait()
	})
}
