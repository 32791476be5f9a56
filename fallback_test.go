//go:build linux

package uring_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/goaio/uring"
	"github.com/goaio/uring/internal/seccomptest"
)

// The fallback tests (invariant 6) re-run this test binary in a child whose
// seccomp filter makes io_uring_setup fail the way a container's default
// profile (ENOSYS) or kernel.io_uring_disabled (EPERM) does.
const seccompEnv = "URING_TEST_SECCOMP_ERRNO"

// seccompRunEnv makes the child filter itself and then run its tests as
// usual: how the test binary behaves in a container that blocks io_uring.
const seccompRunEnv = "URING_TEST_SECCOMP_RUN"

// init, not TestMain: the child must filter itself before any test runs.
func init() {
	if v := os.Getenv(seccompEnv); v != "" {
		os.Exit(seccompChild(v))
	}
	if os.Getenv(seccompRunEnv) != "" {
		if err := seccomptest.BlockIOUringSetup(syscall.ENOSYS); err != nil {
			fmt.Println("seccomp:", err)
			os.Exit(1)
		}
	}
}

func TestUnavailableENOSYS(t *testing.T) { runSeccompChild(t, "ENOSYS") }
func TestUnavailableEPERM(t *testing.T)  { runSeccompChild(t, "EPERM") }

func runSeccompChild(t *testing.T, errno string) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), seccompEnv+"="+errno)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child output:\n%s", out)
	require.Contains(t, string(out), "fallback-ok")
}

// Without io_uring TestMain leaves the examples out and says why; under
// URING_REQUIRE=1 they run, and fail.
func TestExamplesWithoutRing(t *testing.T) {
	run := func(require string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^Example", "-test.v")
		cmd.Env = append(os.Environ(), seccompRunEnv+"=1", "URING_REQUIRE="+require)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("")
	require.NoError(t, err, "child output:\n%s", out)
	require.Contains(t, out, "uring: examples skipped: ")
	require.NotContains(t, out, "=== RUN")

	out, err = run("1")
	require.Error(t, err, "child output:\n%s", out)
	require.Contains(t, out, "io_uring required (URING_REQUIRE=1) but unavailable")
	require.Contains(t, out, "=== RUN   Example")
}

func seccompChild(name string) int {
	errno := map[string]syscall.Errno{"ENOSYS": syscall.ENOSYS, "EPERM": syscall.EPERM}[name]
	if err := seccomptest.BlockIOUringSetup(errno); err != nil {
		fmt.Println("seccomp:", err)
		return 1
	}
	check := func(what string, err error) bool {
		if !errors.Is(err, uring.ErrUnsupported) || !errors.Is(err, errno) || !errors.Is(err, errors.ErrUnsupported) {
			fmt.Printf("%s: got %v, want ErrUnsupported wrapping %v\n", what, err, errno)
			return false
		}
		return true
	}
	_, err := uring.New()
	ok := check("New", err)
	ok = check("Available", uring.Available()) && ok
	_, err = uring.Default()
	ok = check("Default", err) && ok
	if !ok {
		return 1
	}
	fmt.Println("fallback-ok:", err)
	return 0
}
