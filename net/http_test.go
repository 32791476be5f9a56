//go:build linux

package net_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/goaio/uring"
	unet "github.com/goaio/uring/net"
)

// e2eEnv is one way of running an end-to-end test: on a ring of the test's
// own (closed at its end, so goleak sees every goroutine the ring started
// go away) or with Fallback set, where this package hands out std's objects.
type e2eEnv struct {
	ring     *uring.Ring // nil on the fallback
	fallback bool
}

// e2eRun runs f on the ring and on the fallback, each with a goroutine leak
// check. Without io_uring the ring case skips with the reason, or fails
// under URING_REQUIRE=1.
func e2eRun(t *testing.T, f func(t *testing.T, env e2eEnv)) {
	t.Run("ring", func(t *testing.T) {
		if err := uring.Available(); err != nil {
			if os.Getenv("URING_REQUIRE") == "1" {
				t.Fatalf("io_uring required (URING_REQUIRE=1) but unavailable: %v", err)
			}
			t.Skipf("io_uring unavailable here: %v", err)
		}
		e2eLeakCheck(t)
		e2eFDCheck(t)
		// A server keeps a receive pending per idle connection and the
		// clients one each too: room for thousands, as Default has.
		r, err := uring.New(uring.WithShards(2), uring.WithMaxInFlight(1<<14))
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, r.Close()) })
		f(t, e2eEnv{ring: r})
	})
	t.Run("fallback", func(t *testing.T) {
		e2eLeakCheck(t)
		f(t, e2eEnv{fallback: true})
	})
}

// e2eLeakCheck fails t if goroutines started during it outlive its cleanups
// (registered first, so it runs after every later cleanup).
func e2eLeakCheck(t *testing.T) {
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		if t.Failed() {
			return // a failed check may leave its peers blocked: the failure is the report
		}
		goleak.VerifyNone(t, before)
	})
}

// e2eFDCheck fails t if it leaves descriptors open: every socket the ring
// took over is closed by the end (checked after the ring's own Close). Only
// on the ring: std pools splice pipes until a GC.
func e2eFDCheck(t *testing.T) {
	count := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		require.NoError(t, err)
		return len(ents)
	}
	before := count()
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		deadline := time.Now().Add(5 * time.Second)
		for count() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := count(); n > before {
			t.Errorf("%d descriptors open after the test, %d before", n, before)
		}
	})
}

func (e e2eEnv) listenConfig() *unet.ListenConfig {
	return &unet.ListenConfig{Ring: e.ring, Fallback: e.fallback}
}

func (e e2eEnv) dialer() *unet.Dialer { return &unet.Dialer{Ring: e.ring, Fallback: e.fallback} }

// e2eAddr is a fresh address to listen on: loopback TCP, or a unix socket
// in a short temporary directory (sun_path holds 108 bytes).
func e2eAddr(t *testing.T, network string) string {
	if network == "unix" {
		dir, err := os.MkdirTemp("", "unet")
		require.NoError(t, err)
		t.Cleanup(func() { os.RemoveAll(dir) })
		return filepath.Join(dir, "s")
	}
	return "127.0.0.1:0"
}

// listen listens on network and checks the listener is the ring's (or std's
// on the fallback).
func (e e2eEnv) listen(t *testing.T, network string) net.Listener {
	t.Helper()
	ln, err := e.listenConfig().Listen(context.Background(), network, e2eAddr(t, network))
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	e.checkType(t, ln)
	return ln
}

// checkType fails t unless v is this package's type on the ring and std's
// on the fallback: a test of the ring must not pass on std's sockets.
func (e e2eEnv) checkType(t testing.TB, v any) {
	t.Helper()
	var ok bool
	if e.fallback {
		switch v.(type) {
		case *net.TCPListener, *net.UnixListener, *net.TCPConn, *net.UnixConn:
			ok = true
		}
	} else {
		switch v.(type) {
		case *unet.TCPListener, *unet.UnixListener, *unet.TCPConn, *unet.UnixConn:
			ok = true
		}
	}
	if !ok {
		t.Errorf("fallback=%v: got %T", e.fallback, v)
	}
}

// e2eServer is an http.Server on this package's listener and an
// http.Client whose transport dials through this package's Dialer.
type e2eServer struct {
	env     e2eEnv
	network string
	ln      net.Listener
	srv     *http.Server
	url     string
	tr      *http.Transport
	client  *http.Client

	accepted atomic.Int64 // connections the server saw (StateNew)
	mu       sync.Mutex
	states   map[net.Conn]http.ConnState

	serveDone chan struct{}
	serveErr  error
}

func e2eStartHTTP(t *testing.T, env e2eEnv, network string, h http.Handler, config ...func(*http.Server)) *e2eServer {
	t.Helper()
	s := &e2eServer{env: env, network: network, states: map[net.Conn]http.ConnState{}, serveDone: make(chan struct{})}
	s.ln = env.listen(t, network)
	s.srv = &http.Server{
		Handler: h,
		ConnState: func(c net.Conn, st http.ConnState) {
			if st == http.StateNew {
				s.accepted.Add(1)
				env.checkType(t, c)
			}
			s.mu.Lock()
			s.states[c] = st
			s.mu.Unlock()
		},
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          nil,
	}
	for _, f := range config {
		f(s.srv)
	}
	go func() {
		s.serveErr = s.srv.Serve(s.ln)
		close(s.serveDone)
	}()
	s.tr = &http.Transport{
		DialContext:         func(ctx context.Context, _, _ string) (net.Conn, error) { return s.dial(ctx) },
		DisableCompression:  true,
		MaxIdleConnsPerHost: 16,
	}
	s.client = &http.Client{Transport: s.tr}
	s.url = "http://" + s.ln.Addr().String()
	if network == "unix" {
		s.url = "http://unix"
	}
	t.Cleanup(func() {
		s.tr.CloseIdleConnections()
		s.srv.Close()
		<-s.serveDone
	})
	return s
}

// dial connects to the server through this package's Dialer.
func (s *e2eServer) dial(ctx context.Context) (net.Conn, error) {
	c, err := s.env.dialer().DialContext(ctx, s.network, s.ln.Addr().String())
	if err == nil {
		switch c.(type) {
		case *unet.TCPConn, *unet.UnixConn:
			if s.env.fallback {
				c.Close()
				return nil, fmt.Errorf("fallback dialed %T", c)
			}
		default:
			if !s.env.fallback {
				c.Close()
				return nil, fmt.Errorf("ring dialed %T", c)
			}
		}
	}
	return c, err
}

func (s *e2eServer) countIn(st http.ConnState) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.states {
		if v == st {
			n++
		}
	}
	return n
}

// e2eNetworks runs f over TCP and over a unix socket.
func e2eNetworks(t *testing.T, f func(t *testing.T, network string)) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) { f(t, network) })
	}
}

// e2eData is n deterministic pseudo-random bytes named by seed.
func e2eData(seed uint64, n int64) io.Reader {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	return io.LimitReader(rand.NewChaCha8(key), n)
}

func e2eSum(r io.Reader) (string, int64) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return "error: " + err.Error(), n
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

func e2eGet(t *testing.T, s *e2eServer, path string) string {
	t.Helper()
	resp, err := s.client.Get(s.url + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
	return string(b)
}

// TestHTTPKeepAlive: many requests, in sequence and from several goroutines,
// reuse the transport's connections instead of dialing one each.
func TestHTTPKeepAlive(t *testing.T) {
	e2eRun(t, func(t *testing.T, env e2eEnv) {
		e2eNetworks(t, func(t *testing.T, network string) {
			s := e2eStartHTTP(t, env, network, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "hello "+r.URL.Path)
			}))
			for i := range 200 {
				path := "/seq/" + strconv.Itoa(i)
				require.Equal(t, "hello "+path, e2eGet(t, s, path))
			}
			require.EqualValues(t, 1, s.accepted.Load(), "200 sequential requests took more than one connection")

			// Concurrent requests on a transport of at most 4 connections:
			// they stay open and carry the lot.
			tr := s.tr.Clone()
			tr.MaxConnsPerHost = 4
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for g := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 25 {
						path := fmt.Sprintf("/par/%d/%d", g, i)
						resp, err := client.Get(s.url + path)
						if err != nil {
							errs <- err
							return
						}
						b, err := io.ReadAll(resp.Body)
						resp.Body.Close()
						if err != nil || string(b) != "hello "+path {
							errs <- fmt.Errorf("%s: %q, %v", path, b, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			require.LessOrEqual(t, s.accepted.Load(), int64(1+4), "connections were not reused")
		})
	})
}

// TestHTTPChunked: a request body of unknown length goes out chunked and
// arrives whole; a flushed response of unknown length comes back chunked.
func TestHTTPChunked(t *testing.T) {
	e2eRun(t, func(t *testing.T, env e2eEnv) {
		e2eNetworks(t, func(t *testing.T, network string) {
			s := e2eStartHTTP(t, env, network, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if len(r.TransferEncoding) != 1 || r.TransferEncoding[0] != "chunked" || r.ContentLength != -1 {
					http.Error(w, fmt.Sprintf("request not chunked: %v %d", r.TransferEncoding, r.ContentLength), 400)
					return
				}
				sum, n := e2eSum(r.Body)
				w.Header().Set("X-Sum", sum)
				w.Header().Set("X-Len", strconv.FormatInt(n, 10))
				// Respond in flushed pieces of growing size: chunked (even
				// when empty: the first Flush sends the header without a length).
				f := w.(http.Flusher)
				f.Flush()
				body := e2eData(7, n)
				for size := 1; ; size = size*3 + 1 {
					if _, err := io.CopyN(w, body, int64(size)); err != nil {
						break
					}
					f.Flush()
				}
			}))
			for _, n := range []int64{0, 1, 4095, 300_000} {
				pr, pw := io.Pipe()
				go func() {
					// Uneven writes become uneven chunks.
					src := e2eData(3, n)
					buf := make([]byte, 7919)
					for i := 1; ; i++ {
						k, err := src.Read(buf[:1+i*131%len(buf)])
						if k > 0 {
							if _, werr := pw.Write(buf[:k]); werr != nil {
								return
							}
						}
						if err != nil {
							pw.Close()
							return
						}
					}
				}()
				req, err := http.NewRequest("POST", s.url+"/up", pr)
				require.NoError(t, err)
				req.TransferEncoding = []string{"chunked"}
				resp, err := s.client.Do(req)
				require.NoError(t, err)
				got, gotN := e2eSum(resp.Body)
				resp.Body.Close()
				require.Equal(t, http.StatusOK, resp.StatusCode)
				want, _ := e2eSum(e2eData(3, n))
				require.Equal(t, want, resp.Header.Get("X-Sum"), "request body, %d bytes", n)
				require.Equal(t, strconv.FormatInt(n, 10), resp.Header.Get("X-Len"))
				require.Equal(t, []string{"chunked"}, resp.TransferEncoding, "response")
				require.EqualValues(t, -1, resp.ContentLength)
				want, _ = e2eSum(e2eData(7, n))
				require.Equal(t, want, got, "response body, %d bytes", n)
				require.Equal(t, n, gotN)
			}
			require.EqualValues(t, 1, s.accepted.Load(), "chunked bodies broke keep-alive")
		})
	})
}

// e2eLarge is the size of the large upload and download.
const e2eLarge = 64 << 20

// TestHTTPLarge: 64 MiB up and down, checked with sha256: a generated body
// both ways, and a file served with http.ServeContent (which hands the
// *os.File to the connection's ReadFrom: sendfile on TCP).
func TestHTTPLarge(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "large")
	f, err := os.Create(file)
	require.NoError(t, err)
	_, err = io.Copy(f, e2eData(11, e2eLarge))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	wantUp, _ := e2eSum(e2eData(5, e2eLarge))
	wantDown, _ := e2eSum(e2eData(9, e2eLarge))
	wantFile, _ := e2eSum(e2eData(11, e2eLarge))

	e2eRun(t, func(t *testing.T, env e2eEnv) {
		e2eNetworks(t, func(t *testing.T, network string) {
			s := e2eStartHTTP(t, env, network, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/up":
					sum, n := e2eSum(r.Body)
					fmt.Fprintf(w, "%s %d", sum, n)
				case "/down":
					w.Header().Set("Content-Length", strconv.Itoa(e2eLarge))
					_, _ = io.Copy(w, e2eData(9, e2eLarge))
				case "/file":
					f, err := os.Open(file)
					if err != nil {
						http.Error(w, err.Error(), 500)
						return
					}
					defer f.Close()
					http.ServeContent(w, r, "large", time.Time{}, f)
				}
			}))

			resp, err := s.client.Post(s.url+"/up", "application/octet-stream", e2eData(5, e2eLarge))
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("%s %d", wantUp, e2eLarge), string(b), "upload")

			for path, want := range map[string]string{"/down": wantDown, "/file": wantFile} {
				resp, err = s.client.Get(s.url + path)
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				require.EqualValues(t, e2eLarge, resp.ContentLength, path)
				got, n := e2eSum(resp.Body)
				resp.Body.Close()
				require.EqualValues(t, e2eLarge, n, path)
				require.Equal(t, want, got, path)
			}
			require.EqualValues(t, 1, s.accepted.Load(), "large bodies broke keep-alive")
		})
	})
}

// TestHTTPShutdown: http.Server.Shutdown with idle keep-alive connections
// and a request in flight closes the idle ones at once (their clients read
// EOF), stops listening (new dials fail), lets the active request finish,
// and returns once it has.
func TestHTTPShutdown(t *testing.T) {
	e2eRun(t, func(t *testing.T, env e2eEnv) {
		e2eNetworks(t, func(t *testing.T, network string) {
			started := make(chan struct{})
			release := make(chan struct{})
			slowBody := bytes.Repeat([]byte("slow done "), 100_000) // 1 MB: more than the socket buffers
			s := e2eStartHTTP(t, env, network, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/slow" {
					close(started)
					<-release
					_, _ = w.Write(slowBody)
					return
				}
				_, _ = io.WriteString(w, "ok")
			}))

			// Idle keep-alive connections: one request each, then quiet.
			const idle = 3
			var idleConns []net.Conn
			for range idle {
				c, err := s.dial(context.Background())
				require.NoError(t, err)
				defer c.Close()
				_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: e2e\r\n\r\n")
				require.NoError(t, err)
				br := bufio.NewReader(c)
				resp, err := http.ReadResponse(br, nil)
				require.NoError(t, err)
				b, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				require.Equal(t, "ok", string(b))
				require.False(t, resp.Close, "server asked to close a keep-alive connection")
				idleConns = append(idleConns, c)
			}
			require.Eventually(t, func() bool { return s.countIn(http.StateIdle) == idle }, 5*time.Second, time.Millisecond)

			// One active request, blocked in its handler.
			type result struct {
				body []byte
				err  error
			}
			active := make(chan result, 1)
			go func() {
				resp, err := s.client.Get(s.url + "/slow")
				if err != nil {
					active <- result{err: err}
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != 200 {
					err = errors.New(resp.Status)
				}
				active <- result{b, err}
			}()
			<-started

			shutdown := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				shutdown <- s.srv.Shutdown(ctx)
			}()

			// Idle connections are closed: their clients read EOF.
			for i, c := range idleConns {
				require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
				n, err := c.Read(make([]byte, 1))
				require.Equal(t, 0, n)
				require.ErrorIs(t, err, io.EOF, "idle connection %d", i)
			}
			<-s.serveDone
			require.ErrorIs(t, s.serveErr, http.ErrServerClosed)

			// The listener is closed: nobody answers (for unix, the socket
			// file is gone, as std's listener removes it).
			_, err := s.dial(context.Background())
			require.Error(t, err)
			if network == "unix" {
				require.ErrorIs(t, err, syscall.ENOENT)
			} else {
				require.ErrorIs(t, err, syscall.ECONNREFUSED)
			}

			// Shutdown waits for the active request.
			select {
			case err := <-shutdown:
				t.Fatalf("Shutdown returned %v with a request in flight", err)
			case <-time.After(50 * time.Millisecond):
			}
			require.Equal(t, 1, s.countIn(http.StateActive))
			close(release)
			res := <-active
			require.NoError(t, res.err)
			require.True(t, bytes.Equal(slowBody, res.body), "active response: %d bytes", len(res.body))
			select {
			case err := <-shutdown:
				require.NoError(t, err)
			case <-time.After(15 * time.Second):
				t.Fatal("Shutdown did not return after the last request finished")
			}
			require.Equal(t, idle+1, s.countIn(http.StateClosed), "every connection closed")
		})
	})
}

// TestHTTPClientGone: a client that hangs up mid-request cancels the
// handler's context (the server's background read sees the EOF), and the
// server carries on serving others.
func TestHTTPClientGone(t *testing.T) {
	e2eRun(t, func(t *testing.T, env e2eEnv) {
		e2eNetworks(t, func(t *testing.T, network string) {
			inHandler := make(chan struct{}, 1)
			ctxErr := make(chan error, 1)
			s := e2eStartHTTP(t, env, network, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/wait" {
					_, _ = io.WriteString(w, "ok")
					return
				}
				inHandler <- struct{}{}
				select {
				case <-r.Context().Done():
					ctxErr <- r.Context().Err()
				case <-time.After(10 * time.Second):
					ctxErr <- errors.New("request context not cancelled 10 s after the client hung up")
				}
			}))
			c, err := s.dial(context.Background())
			require.NoError(t, err)
			_, err = io.WriteString(c, "GET /wait HTTP/1.1\r\nHost: e2e\r\n\r\n")
			require.NoError(t, err)
			<-inHandler
			require.NoError(t, c.Close())
			require.ErrorIs(t, <-ctxErr, context.Canceled)
			require.Equal(t, "ok", e2eGet(t, s, "/"))
		})
	})
}

// TestHTTPTimeouts: the server's deadlines on the connection work: a client
// that sends half a header is cut off after ReadHeaderTimeout, and an idle
// keep-alive connection is closed after IdleTimeout.
func TestHTTPTimeouts(t *testing.T) {
	e2eRun(t, func(t *testing.T, env e2eEnv) {
		e2eNetworks(t, func(t *testing.T, network string) {
			const timeout = 200 * time.Millisecond
			s := e2eStartHTTP(t, env, network, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "ok")
			}), func(srv *http.Server) {
				srv.ReadHeaderTimeout = timeout
				srv.IdleTimeout = timeout
			})

			// Half a header, then silence. The server's clock starts when it
			// accepted, which may be before Dial returns here: measure from
			// before the dial.
			begin := time.Now()
			c, err := s.dial(context.Background())
			require.NoError(t, err)
			defer c.Close()
			_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHo")
			require.NoError(t, err)
			require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
			_, err = io.ReadAll(c) // the server may answer 408 before it closes
			require.NoError(t, err)
			require.GreaterOrEqual(t, time.Since(begin), timeout-10*time.Millisecond)

			// One request, then idle.
			c2, err := s.dial(context.Background())
			require.NoError(t, err)
			defer c2.Close()
			_, err = io.WriteString(c2, "GET / HTTP/1.1\r\nHost: e2e\r\n\r\n")
			require.NoError(t, err)
			br := bufio.NewReader(c2)
			resp, err := http.ReadResponse(br, nil)
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, "ok", string(b))
			begin = time.Now()
			require.NoError(t, c2.SetReadDeadline(time.Now().Add(10*time.Second)))
			n, err := br.Read(make([]byte, 1))
			require.Equal(t, 0, n)
			require.ErrorIs(t, err, io.EOF, "idle connection not closed by IdleTimeout")
			require.GreaterOrEqual(t, time.Since(begin), timeout/2)
		})
	})
}
