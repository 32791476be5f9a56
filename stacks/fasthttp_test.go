//go:build linux

package stacks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/goaio/uring/internal/loopback"
)

// fasthttpHello is the benchmark's handler: "hello", as loopback.Hello.
func fasthttpHello(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("hello") }

func init() {
	loopback.Servers["fasthttp"] = func(ln net.Listener) error { return fasthttp.Serve(ln, fasthttpHello) }
}

// fasthttp (its own server loop, worker pool and connection handling, not
// net/http's) served on each mix's listener and called through the mix's
// dialer: 16 goroutines POST bodies of up to 64 KiB, which the handler
// hashes, and each answer must be the hash of what was sent; then Shutdown
// with the client's connections idle.
func TestFastHTTP(t *testing.T) {
	forEachMix(t, func(t *testing.T, m mix) {
		ln := m.server.listen(t)
		srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
			sum := sha256.Sum256(ctx.PostBody())
			ctx.SetBody(sum[:])
		}}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		client := &fasthttp.Client{Dial: func(addr string) (net.Conn, error) {
			return m.client.dial(context.Background(), "tcp", addr)
		}}
		url := "http://" + ln.Addr().String() + "/"
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for g := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(g), 7))
				for i := range 25 {
					body := make([]byte, rng.IntN(64<<10))
					for j := range body {
						body[j] = byte(rng.Uint32())
					}
					req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
					req.SetRequestURI(url)
					req.Header.SetMethod(fasthttp.MethodPost)
					req.SetBody(body)
					err := client.DoTimeout(req, resp, 20*time.Second)
					want := sha256.Sum256(body)
					if err == nil && (resp.StatusCode() != fasthttp.StatusOK || !bytes.Equal(resp.Body(), want[:])) {
						err = fmt.Errorf("goroutine %d, request %d: status %d, body %x, want the hash %x", g, i, resp.StatusCode(), resp.Body(), want)
					}
					fasthttp.ReleaseRequest(req)
					fasthttp.ReleaseResponse(resp)
					if err != nil {
						errs <- err
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
		client.CloseIdleConnections()
		require.NoError(t, srv.Shutdown())
		require.NoError(t, <-served)
	})
}

// BenchmarkFastHTTP: wrk -t2 -c256 against fasthttp serving "hello" in a
// child process (this test binary), on std's listener and on this module's,
// two rounds alternating. The figure of issue 13: fasthttp on our listener
// against fasthttp on std's.
func BenchmarkFastHTTP(b *testing.B) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("wrk not installed (make bench installs it): ", err)
	}
	rate := map[string]float64{}
	for range 2 {
		for _, side := range []string{"std", "uring"} {
			s, err := loopback.StartChild(side + "-fasthttp")
			require.NoError(b, err)
			out, err := exec.Command(wrk, "-t2", "-c256", "-d5s", "http://"+s.Addr+"/").CombinedOutput()
			_ = s.Stop()
			require.NoError(b, err, "%s", out)
			m := regexp.MustCompile(`Requests/sec:\s+([\d.]+)`).FindSubmatch(out)
			require.NotNil(b, m, "%s", out)
			if bytes.Contains(out, []byte("Non-2xx")) || bytes.Contains(out, []byte("Socket errors")) {
				b.Logf("%s: wrk reported errors:\n%s", side, out)
			}
			v, _ := strconv.ParseFloat(string(m[1]), 64)
			rate[side] += v / 2
		}
	}
	b.Logf("fasthttp: std listener %.0f req/s, ours %.0f req/s", rate["std"], rate["uring"])
	b.ReportMetric(rate["uring"], "req/s")
	b.ReportMetric(rate["std"], "std-req/s")
	b.ReportMetric(rate["uring"]/rate["std"], "xSTD")
}
