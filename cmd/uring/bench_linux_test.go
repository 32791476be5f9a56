package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring/internal/pagecache"
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

// onTmpfs reports whether dir is on tmpfs or ramfs, whose pages fadvise
// cannot drop.
func onTmpfs(t *testing.T, dir string) bool {
	var st unix.Statfs_t
	require.NoError(t, unix.Statfs(dir, &st))
	return st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC
}

// writeSynced writes size bytes of non-zero data to a new file in dir and
// syncs it, so it has no dirty pages fadvise would keep.
func writeSynced(t *testing.T, dir string, size int) string {
	p := filepath.Join(dir, "data")
	require.NoError(t, os.WriteFile(p, bytes.Repeat([]byte("uring cold\n"), size/11+1)[:size], 0o644))
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Sync())
	return p
}

// ioAccounting reports whether the kernel counts the process's storage
// reads in /proc/self/io.
func ioAccounting() bool {
	_, err := os.Stat("/proc/self/io")
	return err == nil
}

func resident(t *testing.T, p string) float64 {
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	r, err := pagecache.Resident(f)
	require.NoError(t, err)
	return r
}

func readAll(t *testing.T, p string) {
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	require.NoError(t, err)
}

// uring bench --only cold,randread on a disk, with the suite's 64
// goroutines: both sides of cold run, and most of their reads miss the page
// cache (/proc/self/io counts about 4 KiB read from storage per 4 KiB
// read); randread after it runs on a warm cache again (nothing read from
// storage). On tmpfs the cold case skips and says why.
func TestBenchCold(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run([]string{"bench", "--duration", "200ms", "--rounds", "1", "--only", "cold,randread",
		"--size", "67108864", "--goroutines", "64", "--dir", dir, "--json"}, &out, &errb)
	require.Equal(t, 0, code, "stderr: %s", errb.String())
	var rep benchReport
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep), out.String())
	require.Len(t, rep.Cases, 2)
	cold, warm := rep.Cases[0], rep.Cases[1]
	require.Equal(t, "cold", cold.Case)
	require.Equal(t, 64, cold.Goroutines)
	if onTmpfs(t, dir) {
		require.Contains(t, cold.Skipped, "tmpfs")
		t.Skipf("cold case skipped as it must on tmpfs: %s", cold.Skipped)
	}
	if strings.Contains(cold.Skipped, "fadvise(DONTNEED) left") {
		t.Skipf("this file system keeps the pages (a container's overlayfs): %s", cold.Skipped)
	}
	require.Empty(t, cold.Skipped)
	sides := []*sideResult{cold.Std}
	if rep.Uring {
		require.NotNil(t, cold.Uring)
		sides = append(sides, cold.Uring)
		require.Greater(t, cold.Ratio, 0.0)
	}
	for _, s := range sides {
		require.Empty(t, s.Error)
		require.Greater(t, s.OpsPerSec, 0.0)
	}
	require.Empty(t, warm.Skipped)
	if !ioAccounting() {
		t.Skip("no /proc/self/io here (CONFIG_TASK_IO_ACCOUNTING off?): the cold case ran, its cache misses cannot be counted")
	}
	for i, s := range sides {
		t.Logf("cold, %s: %.0f B read from storage per 4 KiB read", []string{"std", "uring"}[i], s.ReadBytesPerOp)
		require.GreaterOrEqual(t, s.ReadBytesPerOp, 2048.0, "most 4 KiB reads must miss the page cache")
	}
	for _, s := range []*sideResult{warm.Std, warm.Uring} {
		if s != nil {
			require.Less(t, s.ReadBytesPerOp, 512.0, "randread after cold must be warm again")
		}
	}
}

// keepCold empties the page cache of the file and keeps it empty while it
// runs: pages read back are dropped again within pagecache.DropEvery, and stay
// once it is stopped. Reading the dropped file reads it from storage
// (read_bytes of /proc/self/io rises), which is what the cold case counts.
func TestKeepCold(t *testing.T) {
	dir := t.TempDir()
	if onTmpfs(t, dir) {
		t.Skipf("%s is tmpfs: fadvise cannot drop its pages (TestKeepColdTmpfs covers the skip)", dir)
	}
	const size = 8 << 20
	p := writeSynced(t, dir, size)
	readAll(t, p)
	require.Greater(t, resident(t, p), 0.9, "a file just read is in the page cache")

	stop, err := keepCold(p)
	var skip errSkip
	if errors.As(err, &skip) {
		// Some file systems keep the pages whatever fadvise says (the
		// overlayfs of a container's /tmp): the case skips there, and so
		// does this test, with the same reason.
		t.Skip(skip.reason)
	}
	require.NoError(t, err)
	require.Less(t, resident(t, p), 0.05, "keepCold drops the pages before it returns")
	rb := readBytes()
	readAll(t, p)
	if ioAccounting() {
		require.GreaterOrEqual(t, readBytes()-rb, uint64(size*9/10), "the dropped file is read from storage")
	} else {
		t.Log("no /proc/self/io here (CONFIG_TASK_IO_ACCOUNTING off?): the storage reads are not checked")
	}
	require.Eventually(t, func() bool { return resident(t, p) < 0.05 }, 10*pagecache.DropEvery, pagecache.DropEvery/10,
		"pages read back are dropped again")

	stop()
	readAll(t, p)
	time.Sleep(3 * pagecache.DropEvery)
	require.Greater(t, resident(t, p), 0.9, "after stop nothing drops the pages")
}

// On tmpfs fadvise(DONTNEED) leaves every page where it is, so keepCold
// refuses with errSkip and a reason naming tmpfs.
func TestKeepColdTmpfs(t *testing.T) {
	const shm = "/dev/shm"
	if _, err := os.Stat(shm); err != nil || !onTmpfs(t, shm) {
		t.Skipf("no tmpfs at %s to test on", shm)
	}
	dir, err := os.MkdirTemp(shm, "uring-cold-test-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := writeSynced(t, dir, 1<<20)

	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, pagecache.Drop(f))
	require.Equal(t, 1.0, resident(t, p), "tmpfs keeps its pages")

	stop, err := keepCold(p)
	require.Nil(t, stop)
	var skip errSkip
	require.True(t, errors.As(err, &skip), "%v", err)
	require.Contains(t, skip.reason, "tmpfs")
}
