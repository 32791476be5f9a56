package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// Issue 25, defects 6, 7 and 9: uring cp does what coreutils cp does with
// a file whose stat size is 0 but which has content (/proc), a destination
// that is not a regular file (/dev/null, a FIFO), and a destination that
// names a missing directory: the same exit status, the same content, the
// same message.
func TestDefect25CpSpecialFiles(t *testing.T) {
	cpPath, err := exec.LookPath("cp")
	if err != nil {
		t.Skip("no coreutils cp to compare with")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, src, []byte("some data\n"), 0o644)
	coreutils := func(args ...string) (int, string) {
		var stderr bytes.Buffer
		cmd := exec.Command(cpPath, args...)
		cmd.Stderr = &stderr
		code := 0
		if err := cmd.Run(); err != nil {
			code = cmd.ProcessState.ExitCode()
		}
		msg := stderr.String() // "/usr/bin/cp: ..." as exec runs it
		if i := strings.Index(msg, "cp: "); i >= 0 {
			msg = "uring " + msg[i:]
		}
		return code, msg
	}

	t.Run("proc file", func(t *testing.T) {
		for _, p := range []string{"/proc/version", "/proc/self/mountinfo"} {
			ref, ours := filepath.Join(dir, "ref"), filepath.Join(dir, "ours")
			wantCode, _ := coreutils(p, ref)
			code, stderr := cpRun(t, p, ours)
			require.Equal(t, wantCode, code, "stderr: %s", stderr)
			got, err := os.ReadFile(ours)
			require.NoError(t, err)
			require.NotEmpty(t, got, "%s copied empty", p)
			if p == "/proc/version" { // mountinfo differs between two processes
				want, err := os.ReadFile(ref)
				require.NoError(t, err)
				require.Equal(t, string(want), string(got))
			}
		}
	})
	t.Run("to /dev/null", func(t *testing.T) {
		wantCode, wantErr := coreutils(src, "/dev/null")
		code, stderr := cpRun(t, src, "/dev/null")
		require.Equal(t, wantCode, code)
		require.Equal(t, wantErr, stderr)
	})
	t.Run("to a FIFO", func(t *testing.T) {
		fifo := filepath.Join(dir, "fifo")
		require.NoError(t, syscall.Mkfifo(fifo, 0o644))
		got := make(chan []byte, 1)
		go func() {
			f, err := os.Open(fifo)
			if err != nil {
				got <- nil
				return
			}
			defer f.Close()
			b, _ := io.ReadAll(f)
			got <- b
		}()
		code, stderr := cpRun(t, src, fifo)
		require.Equal(t, 0, code, "stderr: %s", stderr)
		require.Empty(t, stderr)
		require.Equal(t, "some data\n", string(<-got))
	})
	t.Run("into a missing directory", func(t *testing.T) {
		dst := filepath.Join(dir, "missing-dir") + "/"
		wantCode, wantErr := coreutils(src, dst)
		code, stderr := cpRun(t, src, dst)
		require.Equal(t, wantCode, code)
		require.Equal(t, wantErr, stderr)
	})
}
