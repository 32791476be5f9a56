//go:build linux

package soak

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/goaio/uring/fs"
	unet "github.com/goaio/uring/net"
)

// httpServer is net/http on a ring listener.
type httpServer struct {
	srv  *http.Server
	ln   net.Listener
	addr string
	done chan error
}

func (e *env) startHTTP() (*httpServer, error) {
	lc := unet.ListenConfig{Ring: e.ring}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	// /echo answers with the request's body.
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			e.check("http server read body", err, cClosed|cEOF|cPeer|cDeadline)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, err = w.Write(body)
		e.check("http server write /echo", err, cClosed|cPeer|cDeadline)
		e.rec.op("http.server /echo")
	})
	// /data?n=N&seed=S answers with N bytes of S's pattern; with abort=1 it
	// stops half way and drops the connection (http.ErrAbortHandler).
	mux.HandleFunc("GET /data", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.FormValue("n"))
		seed, _ := strconv.ParseUint(r.FormValue("seed"), 10, 64)
		data := pattern(n, seed)
		w.Header().Set("Content-Length", strconv.Itoa(n))
		if r.FormValue("abort") == "1" {
			_, _ = w.Write(data[:n/2])
			e.rec.op("http.server abort")
			panic(http.ErrAbortHandler)
		}
		_, err := w.Write(data)
		e.check("http server write /data", err, cClosed|cPeer|cDeadline)
		e.rec.op("http.server /data")
	})
	// /file copies the big file from an fs.File on the ring.
	mux.HandleFunc("GET /file", func(w http.ResponseWriter, r *http.Request) {
		f, err := fs.Open(e.bigPath, fs.WithRing(e.ring))
		if err != nil {
			e.check("http server fs.Open", err, 0)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		w.Header().Set("Content-Length", strconv.Itoa(len(e.big)))
		_, err = io.Copy(w, f)
		e.check("http server copy /file", err, cClosed|cPeer|cDeadline)
		e.rec.op("http.server /file")
	})
	s := &httpServer{
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: netSafety,
			IdleTimeout:       2 * time.Second,
			ErrorLog:          log.New(serverLog{e}, "", 0),
		},
		ln:   ln,
		addr: ln.Addr().String(),
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// serverLog fails the soak on anything net/http's server logs: an accept
// error, a panic other than ErrAbortHandler.
type serverLog struct{ e *env }

func (l serverLog) Write(p []byte) (int, error) {
	l.e.rec.fail("http server logged: %s", strings.TrimSpace(string(p)))
	return len(p), nil
}

// close shuts the server down: Shutdown for the idle conns, then Close for
// the rest. false if Serve did not return in time.
func (s *httpServer) close(e *env) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		e.check("http Shutdown", err, 0)
	}
	e.check("http Close", s.srv.Close(), 0)
	select {
	case err := <-s.done:
		if !errors.Is(err, http.ErrServerClosed) {
			e.check("http Serve", err, 0)
		}
		return true
	case <-time.After(netSafety):
		return false
	}
}

// httpClients are one client dialling through the ring and one with std's
// dialer, both over keep-alive connections.
type httpClients struct {
	ring, std *http.Client
}

func (e *env) newHTTPClients() *httpClients {
	tr := func(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Transport {
		return &http.Transport{
			DialContext:         dial,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     time.Second, // shorter than the server's
			DisableCompression:  true,
		}
	}
	return &httpClients{
		ring: &http.Client{Transport: tr((&unet.Dialer{Ring: e.ring}).DialContext)},
		std:  &http.Client{Transport: tr((&net.Dialer{}).DialContext)},
	}
}

func (c *httpClients) closeIdle() {
	c.ring.CloseIdleConnections()
	c.std.CloseIdleConnections()
}

// httpClient sends requests of every kind until the end, with random
// cancels and deadlines on their contexts, and checks every body.
func (e *env) httpClient(addr string, cl *http.Client, name string, rng *rand.Rand) {
	base := "http://" + addr
	for e.running() {
		ctx, cancel, provoked := callCtx(rng, netSafety, 3*time.Millisecond)
		var req *http.Request
		var want []byte
		var err error
		abort := false
		kind := ""
		switch x := rng.IntN(20); {
		case x < 8:
			kind = "POST /echo"
			want = pattern(rng.IntN(maxPayload), rng.Uint64())
			req, err = http.NewRequestWithContext(ctx, "POST", base+"/echo", bytes.NewReader(want))
			if err == nil {
				// Replayable, so a keep-alive race with the server's idle
				// close is retried by the transport, as for a GET.
				req.Header.Set("Idempotency-Key", "x")
			}
		case x < 16:
			n, seed := 2+rng.IntN(256<<10), rng.Uint64()
			abort = rng.IntN(8) == 0
			kind = "GET /data"
			if abort {
				kind += " abort"
			}
			want = pattern(n, seed)
			u := fmt.Sprintf("%s/data?n=%d&seed=%d", base, n, seed)
			if abort {
				u += "&abort=1"
			}
			req, err = http.NewRequestWithContext(ctx, "GET", u, nil)
		default:
			kind = "GET /file"
			want = e.big
			req, err = http.NewRequestWithContext(ctx, "GET", base+"/file", nil)
		}
		if err != nil {
			cancel()
			e.check("http NewRequest", err, 0)
			return
		}
		allowed := provoked
		if abort {
			allowed |= cEOF | cPeer // the server dropped the connection
		}
		where := "http " + name + " " + kind
		resp, err := cl.Do(req)
		if err != nil {
			cancel()
			e.netErr(where, err, allowed)
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		if resp.StatusCode != http.StatusOK {
			e.rec.fail("%s: status %s", where, resp.Status)
			continue
		}
		ok := e.verifyPrefix(where, body, want)
		if err != nil {
			e.netErr(where+" body", err, allowed)
			continue
		}
		if abort {
			e.rec.fail("%s: a complete body from an aborted handler (%d bytes)", where, len(body))
			continue
		}
		if len(body) != len(want) {
			e.mismatch(where, body, want)
		} else if ok {
			e.rec.op("http.verified " + name + " " + kind)
		}
	}
}
