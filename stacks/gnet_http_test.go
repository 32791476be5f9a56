//go:build linux

package stacks

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/stretchr/testify/require"

	"github.com/goaio/uring"
	"github.com/goaio/uring/internal/loopback"
)

// gnet's HTTP responder, as gnet's own HTTP example writes it: every
// request head found in what arrived is answered with a fixed response
// (loopback.HelloResponse, the loop responder's bytes), the rest kept for
// the next traffic.
func init() {
	loopback.OwnListener["gnet-http"] = func(listening func(addr string)) error {
		return gnet.Run(&gnetHello{gnetEcho: gnetEcho{listening: listening}}, "tcp://127.0.0.1:0",
			gnet.WithMulticore(true), gnet.WithLogger(stderrLogger{log.New(os.Stderr, "gnet: ", 0)}))
	}
}

type gnetHello struct{ gnetEcho }

func (h *gnetHello) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Peek(-1)
	n, rest := loopback.CountRequests(buf)
	for range n {
		if _, err := c.Write(loopback.HelloResponse); err != nil {
			return gnet.Close
		}
	}
	_, _ = c.Discard(len(buf) - len(rest))
	return gnet.None
}

// TestGnetHTTPChild: the gnet responder and the loop's answer pipelined
// requests in order, each with the hello response.
func TestGnetHTTPChild(t *testing.T) {
	if err := uring.Available(); err != nil {
		t.Skipf("io_uring unavailable here: %v", err)
	}
	for _, role := range []string{"gnet-http", "loop-http"} {
		s, err := loopback.StartChild(role)
		require.NoError(t, err)
		c, err := net.Dial("tcp", s.Addr)
		require.NoError(t, err)
		req := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
		// Two requests at once, the second split across two writes.
		_, err = c.Write([]byte(req + req[:7]))
		require.NoError(t, err)
		time.Sleep(10 * time.Millisecond)
		_, err = c.Write([]byte(req[7:]))
		require.NoError(t, err)
		got := make([]byte, 2*len(loopback.HelloResponse))
		_, err = io.ReadFull(c, got)
		require.NoError(t, err, role)
		require.Equal(t, string(loopback.HelloResponse)+string(loopback.HelloResponse), string(got), role)
		c.Close()
		require.NoError(t, s.Stop())
	}
}

// BenchmarkLoopHTTPGnet: wrk -t2 -c256 against the hello responders of
// package loop and of gnet (and std's net/http for scale), each in a child
// process, 3 rounds alternating; medians of req/s and of server CPU per
// request.
func BenchmarkLoopHTTPGnet(b *testing.B) {
	if err := uring.Available(); err != nil {
		b.Skipf("io_uring unavailable here: %v", err)
	}
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("wrk not installed (make bench installs it): ", err)
	}
	d := benchTime(b)
	roles := []string{"std-http", "gnet-http", "loop-http"}
	rates, cpus := map[string][]float64{}, map[string][]float64{}
	for round := range 3 {
		order := append([]string(nil), roles...)
		if round%2 == 1 {
			order = []string{"loop-http", "gnet-http", "std-http"}
		}
		for _, role := range order {
			s, err := loopback.StartChild(role)
			require.NoError(b, err)
			cpu0 := s.CPU()
			out, err := exec.Command(wrk, "-t2", "-c256", fmt.Sprintf("-d%ds", max(1, int(d.Seconds()))),
				"http://"+s.Addr+"/").CombinedOutput()
			cpu := s.CPU() - cpu0
			s.Stop()
			require.NoError(b, err, "wrk: %s", out)
			m := regexp.MustCompile(`Requests/sec:\s+([\d.]+)`).FindSubmatch(out)
			require.NotNil(b, m, "wrk output: %s", out)
			if bytes.Contains(out, []byte("Non-2xx")) || bytes.Contains(out, []byte("Socket errors")) {
				b.Fatalf("%s: wrk reported errors:\n%s", role, out)
			}
			rate, _ := strconv.ParseFloat(string(m[1]), 64)
			total := rate * float64(max(1, int(d.Seconds())))
			rates[role] = append(rates[role], rate)
			cpus[role] = append(cpus[role], float64(cpu)/total)
		}
	}
	med := func(m map[string][]float64, role string) float64 { return loopback.Median(m[role]) }
	for _, role := range roles {
		b.Logf("%-10s %8.0f req/s (%.2fx gnet)  server CPU %5.2f µs/req (%.2fx gnet)", role, med(rates, role),
			med(rates, role)/med(rates, "gnet-http"), med(cpus, role)/1e3, med(cpus, role)/med(cpus, "gnet-http"))
	}
	b.ReportMetric(med(rates, "loop-http")/med(rates, "gnet-http"), "loop-xGNET")
	b.ReportMetric(med(cpus, "loop-http")/med(cpus, "gnet-http"), "loop-cpu/req-xGNET")
	b.ReportMetric(med(rates, "gnet-http")/med(rates, "std-http"), "gnet-xSTD")
}
