package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
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
	if err := blockIOUringSetup(errno); err != nil {
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

// blockIOUringSetup installs a seccomp filter on every thread that fails
// io_uring_setup(2) with errno and allows everything else.
func blockIOUringSetup(errno syscall.Errno) error {
	const (
		retErrno = 0x00050000 // SECCOMP_RET_ERRNO
		retAllow = 0x7fff0000 // SECCOMP_RET_ALLOW
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
