//go:build linux

package stacks

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// quiet swallows the servers' and proxies' logs: the failures these tests
// provoke are expected, and the clients check what they see.
var quiet = log.New(io.Discard, "", 0)

// proxyChain is a backend on m's server side behind an httputil.ReverseProxy
// on m's client side (it listens on the side it dials from), with a client
// that dials the proxy from m's server side: in the crossings both hops
// cross, ring to std and std to ring.
type proxyChain struct {
	client *http.Client
	url    string
}

func startProxy(t *testing.T, m mix, backend http.Handler) *proxyChain {
	bln := m.server.listen(t)
	serveHTTP(t, &http.Server{Handler: backend, ErrorLog: quiet}, bln)
	target, err := url.Parse("http://" + bln.Addr().String())
	require.NoError(t, err)
	toBackend := &http.Transport{DialContext: m.client.dial}
	t.Cleanup(toBackend.CloseIdleConnections)
	rp := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		Transport: toBackend,
		ErrorLog:  quiet,
	}
	pln := m.client.listen(t)
	serveHTTP(t, &http.Server{Handler: rp, ErrorLog: quiet}, pln)
	toProxy := &http.Transport{DialContext: m.server.dial}
	t.Cleanup(toProxy.CloseIdleConnections)
	return &proxyChain{client: &http.Client{Transport: toProxy}, url: "http://" + pln.Addr().String()}
}

// serveHTTP serves srv on ln until the end of t.
func serveHTTP(t *testing.T, srv *http.Server, ln net.Listener) {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		require.ErrorIs(t, <-served, http.ErrServerClosed)
	})
}

func TestReverseProxy(t *testing.T) {
	forEachMix(t, func(t *testing.T, m mix) {
		t.Run("streaming", func(t *testing.T) {
			// The backend sends a chunk, then waits for the client to have
			// it: a proxy that held chunks back would never finish.
			const chunks, size = 64, 16 << 10
			got := make(chan struct{})
			chain := startProxy(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rc := http.NewResponseController(w)
				for i := range chunks {
					if _, err := w.Write(randomBytes(uint64(i), size)); err != nil {
						return
					}
					if err := rc.Flush(); err != nil {
						return
					}
					select {
					case <-got:
					case <-r.Context().Done():
						return
					}
				}
			}))
			resp, err := chain.client.Get(chain.url)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.EqualValues(t, -1, resp.ContentLength, "streamed, not buffered")
			buf := make([]byte, size)
			for i := range chunks {
				_, err := io.ReadFull(resp.Body, buf)
				require.NoError(t, err, "chunk %d", i)
				require.Equal(t, sum(randomBytes(uint64(i), size)), sum(buf), "chunk %d", i)
				got <- struct{}{}
			}
			n, err := io.Copy(io.Discard, resp.Body)
			require.NoError(t, err)
			require.Zero(t, n, "bytes after the last chunk")
		})

		t.Run("upgrade", func(t *testing.T) {
			chain := startProxy(t, m, http.HandlerFunc(echoUpgrade))
			req, err := http.NewRequest("GET", chain.url, nil)
			require.NoError(t, err)
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "echo")
			resp, err := chain.client.Do(req)
			require.NoError(t, err)
			require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
			require.Equal(t, "echo", resp.Header.Get("Upgrade"))
			rwc, ok := resp.Body.(io.ReadWriteCloser)
			require.True(t, ok, "a 101's body is the connection: %T", resp.Body)
			defer rwc.Close()
			size := 4 << 20
			if raceEnabled {
				size = 1 << 20
			}
			out := randomBytes(7, size)
			wrote := make(chan error, 1)
			go func() {
				_, err := rwc.Write(out)
				wrote <- err
			}()
			h := sha256.New()
			n, err := io.CopyN(h, rwc, int64(size))
			require.NoError(t, err, "echoed %d of %d bytes", n, size)
			require.NoError(t, <-wrote)
			require.Equal(t, sum(out), hex.EncodeToString(h.Sum(nil)), "the echo through the proxy")
		})

		for _, declared := range []bool{true, false} {
			name := "backend dies mid-body, chunked"
			if declared {
				name = "backend dies mid-body, Content-Length"
			}
			t.Run(name, func(t *testing.T) {
				const total, sent = 1 << 20, 256 << 10
				chain := startProxy(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if declared {
						w.Header().Set("Content-Length", strconv.Itoa(total))
					}
					w.Write(randomBytes(1, sent))
					http.NewResponseController(w).Flush()
					panic(http.ErrAbortHandler) // the connection is cut, the body left short
				}))
				resp, err := chain.client.Get(chain.url)
				require.NoError(t, err, "the headers came before the cut")
				defer resp.Body.Close()
				n, err := io.Copy(io.Discard, resp.Body)
				require.Error(t, err, "read %d bytes of %d, then a clean end", n, total)
				require.Less(t, n, int64(total))
			})
		}
	})
}

// echoUpgrade switches to the "echo" protocol, a stand-in for WebSocket:
// every byte that arrives goes back, until the peer closes.
func echoUpgrade(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") != "echo" {
		http.Error(w, "Upgrade: echo expected", http.StatusBadRequest)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	if brw.Flush() != nil {
		return
	}
	io.Copy(conn, brw.Reader) // the reader first: it may hold bytes already read
}
