//go:build linux

package stacks

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// selfSigned is a certificate for 127.0.0.1 and a pool that trusts it,
// made once for the whole run.
var selfSigned = sync.OnceValues(func() (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "stacks test"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
})

// h2Server is an http.Server speaking HTTP/2 on m's server side, over TLS
// or as h2c, with transports that dial it from m's client side.
type h2Server struct {
	m     mix
	tls   bool
	srv   *http.Server
	url   string
	conns atomic.Int64 // connections the server accepted
}

func startH2(t *testing.T, m mix, overTLS bool, h http.Handler) *h2Server {
	s := &h2Server{m: m, tls: overTLS}
	ln := m.server.listen(t)
	s.srv = &http.Server{
		Handler: h,
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				s.conns.Add(1)
			}
		},
	}
	served := make(chan error, 1)
	if overTLS {
		cert, _ := selfSigned()
		s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		s.url = "https://" + ln.Addr().String()
		go func() { served <- s.srv.ServeTLS(ln, "", "") }()
	} else {
		s.srv.Protocols = h2cOnly()
		s.url = "http://" + ln.Addr().String()
		go func() { served <- s.srv.Serve(ln) }()
	}
	t.Cleanup(func() {
		s.srv.Close()
		require.ErrorIs(t, <-served, http.ErrServerClosed)
	})
	return s
}

// h2cOnly is HTTP/2 with prior knowledge over plain TCP (Go 1.24's
// Protocols, so no golang.org/x/net/http2/h2c).
func h2cOnly() *http.Protocols {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &p
}

// transport is a new client transport (so a new connection) to s.
func (s *h2Server) transport(t *testing.T) *http.Transport {
	tr := &http.Transport{DialContext: s.m.client.dial}
	if s.tls {
		_, pool := selfSigned()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
		tr.ForceAttemptHTTP2 = true // a custom DialContext turns HTTP/2 off otherwise
	} else {
		tr.Protocols = h2cOnly()
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// hashEcho echoes the request body and sends its SHA-256 as the trailer
// X-Sha256 (the server's view of the upload), with the protocol it saw.
func hashEcho(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Trailer", "X-Sha256")
	w.Header().Set("X-Proto", strconv.Itoa(r.ProtoMajor))
	h := sha256.New()
	if _, err := io.Copy(w, io.TeeReader(r.Body, h)); err != nil {
		return // the client sees the cut
	}
	w.Header().Set("X-Sha256", hex.EncodeToString(h.Sum(nil)))
}

// postHash posts body, reads the whole answer and checks that both the
// echo and the server's trailer hash to what was sent.
func postHash(ctx context.Context, c *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		return err
	}
	want := sum(body)
	switch {
	case resp.StatusCode != http.StatusOK:
		return errors.New(resp.Status)
	case resp.ProtoMajor != 2 || resp.Header.Get("X-Proto") != "2":
		return errors.New("not HTTP/2: client " + resp.Proto + ", server " + resp.Header.Get("X-Proto"))
	case resp.Trailer.Get("X-Sha256") != want:
		return errors.New("the server received other bytes than were sent")
	case hex.EncodeToString(h.Sum(nil)) != want:
		return errors.New("the echo differs: " + strconv.FormatInt(n, 10) + " of " + strconv.Itoa(len(body)) + " bytes")
	}
	return nil
}

func TestHTTP2(t *testing.T) {
	forEachMix(t, func(t *testing.T, m mix) {
		for _, overTLS := range []bool{true, false} {
			name := "tls"
			if !overTLS {
				name = "h2c"
			}
			t.Run(name, func(t *testing.T) { testHTTP2(t, m, overTLS) })
		}
	})
}

func testHTTP2(t *testing.T, m mix, overTLS bool) {
	t.Run("multiplexed on one connection", func(t *testing.T) {
		const streams = 64
		var barrier sync.WaitGroup
		barrier.Add(streams)
		s := startH2(t, m, overTLS, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/barrier" {
				// Every request waits for all the others: they are
				// concurrent streams on the one connection or none answers.
				barrier.Done()
				barrier.Wait()
			}
			hashEcho(w, r)
		}))
		c := &http.Client{Transport: s.transport(t)}
		require.NoError(t, postHash(context.Background(), c, s.url+"/warm", []byte("first")))
		var reused atomic.Int64
		var wg sync.WaitGroup
		for i := range streams {
			wg.Go(func() {
				trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) {
					if ci.Reused {
						reused.Add(1)
					}
				}}
				ctx := httptrace.WithClientTrace(context.Background(), trace)
				if err := postHash(ctx, c, s.url+"/barrier", randomBytes(uint64(i), 16<<10+i)); err != nil {
					t.Errorf("stream %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		require.EqualValues(t, streams, reused.Load(), "requests on the warm connection")
		require.EqualValues(t, 1, s.conns.Load(), "connections the server accepted")
	})

	t.Run("large bodies both ways", func(t *testing.T) {
		s := startH2(t, m, overTLS, http.HandlerFunc(hashEcho))
		c := &http.Client{Transport: s.transport(t)}
		require.NoError(t, postHash(context.Background(), c, s.url, []byte("first")))
		uploads, size := 4, 8<<20
		if raceEnabled {
			uploads, size = 2, 2<<20
		}
		var wg sync.WaitGroup
		for i := range uploads {
			wg.Go(func() {
				if err := postHash(context.Background(), c, s.url, randomBytes(uint64(i), size)); err != nil {
					t.Errorf("upload %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		require.EqualValues(t, 1, s.conns.Load(), "connections the server accepted")
	})

	t.Run("client timeout", func(t *testing.T) {
		ended := make(chan error, 1)
		s := startH2(t, m, overTLS, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
			ended <- r.Context().Err()
		}))
		c := &http.Client{Transport: s.transport(t), Timeout: 50 * time.Millisecond}
		resp, err := c.Get(s.url)
		if err == nil {
			resp.Body.Close()
		}
		var ne net.Error
		require.ErrorAs(t, err, &ne)
		require.True(t, ne.Timeout(), "%v", err)
		require.ErrorIs(t, <-ended, context.Canceled, "the handler's context: the client reset the stream")
	})

	t.Run("Shutdown with requests in flight", func(t *testing.T) {
		const inFlight = 8
		held, release := make(chan struct{}, inFlight), make(chan struct{})
		s := startH2(t, m, overTLS, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/warm" {
				return
			}
			held <- struct{}{}
			<-release
			hashEcho(w, r)
		}))
		begun := make(chan struct{})
		s.srv.RegisterOnShutdown(func() { close(begun) }) // called once the listeners are closed
		c := &http.Client{Transport: s.transport(t)}
		// One connection first: concurrent first requests may dial more
		// than one, and a connection whose HTTP/2 serving starts after
		// Shutdown began gets no GOAWAY, so Shutdown waits for it forever.
		warm, err := c.Get(s.url + "/warm")
		require.NoError(t, err)
		warm.Body.Close()
		results := make(chan error, inFlight)
		for i := range inFlight {
			go func() { results <- postHash(context.Background(), c, s.url, randomBytes(uint64(i), 64<<10)) }()
		}
		for range inFlight {
			<-held
		}
		shut := make(chan error, 1)
		go func() { shut <- s.srv.Shutdown(context.Background()) }()
		<-begun
		// A new connection finds no listener.
		late := &http.Client{Transport: s.transport(t)}
		resp, err := late.Get(s.url)
		if err == nil {
			resp.Body.Close()
		}
		require.Error(t, err, "a request on a new connection after Shutdown")
		select {
		case err := <-shut:
			t.Fatalf("Shutdown returned with requests in flight: %v", err)
		default:
		}
		close(release)
		for range inFlight {
			require.NoError(t, <-results, "a request in flight")
		}
		require.NoError(t, <-shut)
		require.EqualValues(t, 1, s.conns.Load(), "connections the server accepted")
	})
}
