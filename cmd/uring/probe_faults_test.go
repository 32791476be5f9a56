//go:build uring_faults && linux && cgo

package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/goaio/uring"
)

// With the uring_faults tag, URING_FAULT_KERNEL makes the process see an
// older kernel's boundary (the root package's faults.go): the child below
// runs uring probe --json as on Linux 5.15.
const probeMaskedEnv = "URING_PROBE_TEST_MASKED"

func init() {
	if os.Getenv(probeMaskedEnv) != "" {
		os.Exit(run([]string{"probe", "--json"}, os.Stdout, os.Stderr))
	}
}

func TestProbeBelowFloor(t *testing.T) {
	if err := uring.Available(); err != nil {
		if os.Getenv("URING_REQUIRE") == "1" {
			t.Fatalf("io_uring required (URING_REQUIRE=1) but unavailable: %v", err)
		}
		t.Skipf("io_uring unavailable here, so there is no kernel to mask: %v", err)
	}
	for kernel, lacks := range map[string]string{"5.15": "IORING_SETUP_SUBMIT_ALL", "6.0": "IORING_SETUP_DEFER_TASKRUN"} {
		t.Run(kernel, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), probeMaskedEnv+"=1", "URING_FAULT_KERNEL="+kernel)
			out, err := cmd.Output()
			var ee *exec.ExitError
			require.True(t, errors.As(err, &ee), "exit status 1 expected: %v\n%s", err, out)
			require.Equal(t, 1, ee.ExitCode(), "stdout:\n%s\nstderr:\n%s", out, ee.Stderr)
			var rep probeReport
			require.NoError(t, json.Unmarshal(out, &rep), "stdout:\n%s", out)
			require.False(t, rep.Usable)
			require.Contains(t, rep.Reason, lacks)
			require.Contains(t, rep.Reason, "Linux 6.1 or newer")
			require.Contains(t, rep.Reason, "fs and net use os and net")
			require.Contains(t, rep.Fix, "Linux 6.1")
			t.Logf("reason: %s\nfix: %s", rep.Reason, rep.Fix)
		})
	}
}
