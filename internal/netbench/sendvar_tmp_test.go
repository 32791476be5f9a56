//go:build linux

package netbench_test

import (
	"os/exec"
	"regexp"
	"strconv"
	"testing"

	"github.com/goaio/uring/internal/loopback"
)

// TEMP (issue 13, item 3): the send designs side by side.
func BenchmarkSendVariants(b *testing.B) {
	requireRing(b)
	roles := []string{"std-echo", "uring-echo", "uring-echo|URING_NET_SEND=ring", "uring-echo|URING_NET_SEND=shared"}
	res, err := loopback.CompareEcho(roles, 1000, 2, benchTime(b)/2)
	if err != nil {
		b.Fatal(err)
	}
	std := res["std-echo"]
	for _, r := range roles {
		b.Logf("%-40s %8.0f rt/s %.2fx  cpu/rt %v (%.2fx) sw/rt %.2f thr %d", r, res[r].Rate, res[r].Rate/std.Rate, res[r].CPUPer, float64(res[r].CPUPer)/float64(std.CPUPer), res[r].SwPer, res[r].Threads)
	}
}

func BenchmarkSendVariantsHTTP(b *testing.B) {
	requireRing(b)
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip(err)
	}
	envs := []string{"", "", "URING_NET_SEND=ring", "URING_NET_SEND=shared"}
	roles := []string{"std-http", "uring-http", "uring-http", "uring-http"}
	rate := make([]float64, len(roles))
	for round := 0; round < 2; round++ {
		for i, role := range roles {
			var e []string
			if envs[i] != "" {
				e = []string{envs[i]}
			}
			s, err := loopback.StartChild(role, e...)
			if err != nil {
				b.Fatal(err)
			}
			out, err := exec.Command(wrk, "-t2", "-c256", "-d3s", "http://"+s.Addr+"/").CombinedOutput()
			s.Stop()
			if err != nil {
				b.Fatal(err)
			}
			m := regexp.MustCompile(`Requests/sec:\s+([\d.]+)`).FindSubmatch(out)
			v, _ := strconv.ParseFloat(string(m[1]), 64)
			rate[i] += v / 2
		}
	}
	for i := range roles {
		b.Logf("%s %s %.0f req/s %.2fx", roles[i], envs[i], rate[i], rate[i]/rate[0])
	}
}
