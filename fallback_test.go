//go:build linux

package uring_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
)

// The fallback tests (invariant 6) re-run this test binary in a child whose
// seccomp filter makes io_uring_setup fail the way a container's default
// profile (ENOSYS) or kernel.io_uring_disabled (EPERM) does.
const seccompEnv = "URING_TEST_SECCOMP_ERRNO"

// init, not TestMain: the child must filter itself before any test runs.
func init() {
	if v := os.Getenv(seccompEnv); v != "" {
		os.Exit(seccompChild(v))
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

func seccompChild(name string) int {
	errno := map[string]syscall.Errno{"ENOSYS": syscall.ENOSYS, "EPERM": syscall.EPERM}[name]
	if err := blockIOUringSetup(errno); err != nil {
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

// blockIOUringSetup installs a seccomp filter on every thread that fails
// io_uring_setup(2) with errno and allows everything else.
func blockIOUringSetup(errno syscall.Errno) error {
	const (
		retErrno = 0x00050000
		retAllow = 0x7fff0000
		ldAbsW   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeqK     = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		retK     = unix.BPF_RET | unix.BPF_K
	)
	filter := []unix.SockFilter{
		{Code: ldAbsW, K: 0}, // seccomp_data.nr
		{Code: jeqK, Jt: 0, Jf: 1, K: unix.SYS_IO_URING_SETUP},
		{Code: retK, K: retErrno | uint32(errno)},
		{Code: retK, K: retAllow},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC,
		uintptr(unsafe.Pointer(&prog)))
	if e != 0 {
		return e
	}
	return nil
}
