package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/goaio/uring/internal/seccomptest"
)

// benchSeccompEnv makes the test binary, re-run as a child, block
// io_uring_setup as a container's default seccomp profile does and run a
// short uring bench.
const benchSeccompEnv = "URING_BENCH_TEST_SECCOMP"

func init() {
	if os.Getenv(benchSeccompEnv) == "" {
		return
	}
	if err := seccomptest.BlockIOUringSetup(syscall.ENOSYS); err != nil {
		fmt.Fprintln(os.Stderr, "seccomp:", err)
		os.Exit(3)
	}
	os.Exit(run([]string{"bench", "--duration", "200ms", "--rounds", "1", "--only", "nop,randread",
		"--size", "1048576", "--goroutines", "4", "--json"}, os.Stdout, os.Stderr))
}

// Where io_uring is blocked, uring bench says so and measures the standard
// library side alone.
func TestBenchUnderSeccomp(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchSeccompEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "stderr:\n%s", stderr.String())
	require.Contains(t, stderr.String(), "io_uring is unavailable here")
	require.Contains(t, stderr.String(), "standard library side only")
	var rep benchReport
	require.NoError(t, json.Unmarshal(out, &rep), "stdout:\n%s", out)
	require.False(t, rep.Uring)
	require.NotEmpty(t, rep.Unavailable)
	require.Len(t, rep.Cases, 2)
	for _, c := range rep.Cases {
		require.Nil(t, c.Uring, c.Case)
		require.Zero(t, c.Ratio, c.Case)
		require.NotNil(t, c.Std, c.Case)
		require.Greater(t, c.Std.OpsPerSec, 0.0, c.Case)
	}
}
