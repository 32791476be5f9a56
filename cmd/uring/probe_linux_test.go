package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/goaio/uring/internal/seccomptest"
)

// The seccomp tests re-run this test binary in a child that blocks
// io_uring_setup with a seccomp filter, as a container's default profile
// does, and then runs uring probe --json.
const probeSeccompEnv = "URING_PROBE_TEST_SECCOMP_ERRNO"

// init, not TestMain: the child must filter itself before anything creates a
// ring, and exits without running the tests.
func init() {
	name := os.Getenv(probeSeccompEnv)
	if name == "" {
		return
	}
	errno := map[string]syscall.Errno{"ENOSYS": syscall.ENOSYS, "EPERM": syscall.EPERM}[name]
	if err := seccomptest.BlockIOUringSetup(errno); err != nil {
		fmt.Fprintln(os.Stderr, "seccomp:", err)
		os.Exit(3)
	}
	os.Exit(run([]string{"probe", "--json"}, os.Stdout, os.Stderr))
}

func TestProbeUnderSeccomp(t *testing.T) {
	if !probeCgo {
		t.Skip("built without cgo: the probe rightly blames the missing cgo, not seccomp")
	}
	if v, err := readProcInt("/proc/sys/kernel/io_uring_disabled"); err == nil && v != 0 {
		t.Skipf("kernel.io_uring_disabled=%d: the probe rightly blames the sysctl, not seccomp", v)
	}
	for _, errno := range []string{"ENOSYS", "EPERM"} {
		t.Run(errno, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), probeSeccompEnv+"="+errno)
			var stderr []byte
			out, err := cmd.Output()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				stderr = ee.Stderr
			}
			require.Error(t, err, "stdout:\n%s", out)
			require.True(t, errors.As(err, &ee), "%v", err)
			require.Equal(t, 1, ee.ExitCode(), "stdout:\n%s\nstderr:\n%s", out, stderr)

			var rep probeReport
			require.NoError(t, json.Unmarshal(out, &rep), "stdout:\n%s", out)
			require.False(t, rep.Usable)
			require.Contains(t, rep.Reason, "seccomp")
			require.Contains(t, rep.Reason, errno)
			require.Contains(t, rep.Fix, "seccomp")
			require.Empty(t, rep.Features)
			require.Empty(t, rep.Opcodes)
			for _, name := range probeCapabilities {
				require.False(t, rep.Capabilities[name].OK, name)
			}
			t.Logf("reason: %s\nfix: %s", rep.Reason, rep.Fix)
		})
	}
}
