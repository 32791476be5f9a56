//go:build linux

package uring_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

// memlockChildEnv marks the child process TestRegisterMemlockPerShard runs
// as another user.
const memlockChildEnv = "URING_TEST_MEMLOCK_CHILD"

// The child's locked-memory budget. Registered buffers are charged once per
// shard, so on a Ring of two shards memlockBig fits once but not twice, and
// memlockSmall fits twice but not next to a memlockBig left behind. The
// margins (about 2 MiB either way) cover what else is charged to the same
// limit: the kernel rings themselves (28 KiB per shard here on Linux 6.18)
// and whatever another process of the same user has not yet given back.
const (
	memlockLimit = 6 << 20
	memlockBig   = 4 << 20
	memlockSmall = 2 << 20
	nobody       = 65534
)

// TestRegisterMemlockPerShard registers buffers as a user RLIMIT_MEMLOCK
// applies to (root is exempt through CAP_IPC_LOCK): it re-runs itself as
// nobody, with a small soft limit, from a copy of the test binary that
// nobody may execute.
func TestRegisterMemlockPerShard(t *testing.T) {
	if os.Getenv(memlockChildEnv) != "" {
		memlockChild(t)
		return
	}
	runAsNobody(t, "TestRegisterMemlockPerShard")
}

// runAsNobody re-runs the test named test as nobody (uid 65534), for whom
// RLIMIT_MEMLOCK applies (root is exempt through CAP_IPC_LOCK), from a copy
// of the test binary that nobody may execute. The child sees memlockChildEnv
// and sets its own soft limit.
func runAsNobody(t *testing.T, test string) {
	requireRing(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root: the check runs as uid 65534 (nobody), and only root can switch to it " +
			"(root itself is exempt from RLIMIT_MEMLOCK through CAP_IPC_LOCK)")
	}
	// The test binary sits in go test's private build directory: copy it
	// where nobody can execute it.
	dir, err := os.MkdirTemp("", "uring-memlock-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	bin := filepath.Join(dir, "uring.test")
	copyExecutable(t, os.Args[0], bin)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.run=^"+test+"$", "-test.v", "-test.count=1")
	cmd.Dir = dir
	// The child skips, saying why, where nobody may not use io_uring
	// (kernel.io_uring_disabled=1 leaves it to a group): URING_REQUIRE is
	// about io_uring being here at all, which the parent checked.
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "URING_REQUIRE=")
	}), memlockChildEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}},
	}
	out, err := cmd.CombinedOutput()
	if _, exited := err.(*exec.ExitError); err != nil && !exited && errors.Is(err, syscall.EPERM) {
		t.Skipf("cannot start a process as uid %d: %v (root without CAP_SETUID or CAP_SETGID, as in some containers)", nobody, err)
	}
	t.Logf("the child, as uid %d:\n%s", nobody, out)
	require.NoError(t, err, "the child failed")
	if i := bytes.Index(out, []byte("--- SKIP")); i >= 0 {
		t.Skipf("as uid %d: %s", nobody, strings.TrimSpace(string(out[i:])))
	}
	require.Contains(t, string(out), "--- PASS: "+test)
}

// TestDefect25Memlock64KiB: under the 64 KiB RLIMIT_MEMLOCK of systemd before
// v253 and Debian 12, as a user without CAP_IPC_LOCK, the default ring is
// created and works (issue 25, defect 8). It was refused with ENOMEM: the
// floor's probe set up and closed five rings first, which the kernel still
// charged while it tore them down, and a second shard did not fit.
func TestDefect25Memlock64KiB(t *testing.T) {
	if os.Getenv(memlockChildEnv) == "" {
		runAsNobody(t, "TestDefect25Memlock64KiB")
		return
	}
	var lim unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim))
	if lim.Max < 64<<10 {
		t.Skipf("RLIMIT_MEMLOCK's hard limit (%d bytes) is below 64 KiB", lim.Max)
	}
	lim.Cur = 64 << 10
	require.NoError(t, unix.Setrlimit(unix.RLIMIT_MEMLOCK, &lim))
	require.NotZero(t, os.Geteuid(), "the child must not be root")

	// Another process of this user (the test before) may still be giving
	// its rings back: the kernel tears closed rings down in the background.
	// Waiting here, before the first ring, leaves the process's own rings
	// to the check; a retry after a failure would hide the defect, whose
	// closed probe rings would be given back during it.
	time.Sleep(time.Second)
	r, err := uring.New()
	if errors.Is(err, uring.ErrUnsupported) {
		t.Skipf("io_uring is not for this user: %v", err)
	}
	require.NoError(t, err, "the default ring under a 64 KiB RLIMIT_MEMLOCK")
	defer r.Close()
	t.Logf("fitted: %d shard(s) of %d entries", r.Shards(), r.MaxBatch())
	_, err = r.Do(t.Context(), ops.Nop())
	require.NoError(t, err)

	// Sizes the caller set are kept, not fitted: a third ring of 256
	// entries does not fit beside r.
	_, err = uring.New(uring.WithShards(1), uring.WithEntries(256))
	require.ErrorIs(t, err, syscall.ENOMEM, "a 256-entry ring beside the default one")
}

func copyExecutable(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	require.NoError(t, err)
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	require.NoError(t, err)
	_, err = io.Copy(dst, src)
	require.NoError(t, err)
	require.NoError(t, dst.Close())
}

// memlockChild runs as nobody.
func memlockChild(t *testing.T) {
	// First of all, the soft limit: a process may lower its own.
	var lim unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim))
	if lim.Max < memlockLimit {
		t.Skipf("RLIMIT_MEMLOCK's hard limit (%d bytes) is below the %d the check needs", lim.Max, memlockLimit)
	}
	lim.Cur = memlockLimit
	require.NoError(t, unix.Setrlimit(unix.RLIMIT_MEMLOCK, &lim))
	require.NotZero(t, os.Geteuid(), "the child must not be root")
	requireRing(t) // kernel.io_uring_disabled=1 allows io_uring to a group only

	r := newRing(t, uring.WithShards(2))
	zero, err := os.Open("/dev/zero")
	require.NoError(t, err)
	defer zero.Close()
	fd := int(zero.Fd())
	// readFixed reads into b, registered buffer 0, on shard i.
	readFixed := func(i int, b []byte) error {
		_, err := uring.DoOnShard(t.Context(), r, i, ops.ReadFixed(fd, b[:4096], 0, 0))
		return err
	}

	// The big buffer fits once, on shard 0, and not again on shard 1.
	big := lockableBuffer(t, memlockBig)
	var regErr error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		regErr = r.RegisterBuffers([][]byte{big})
		if regErr == nil || !strings.Contains(regErr.Error(), "shard 0") || time.Now().After(deadline) {
			break
		}
		// Shard 0 did not fit: another process of this user may still be
		// giving its locked memory back. Wait for it.
	}
	require.Error(t, regErr, "%d bytes registered on 2 shards under a %d-byte RLIMIT_MEMLOCK", memlockBig, memlockLimit)
	require.ErrorIs(t, regErr, syscall.ENOMEM)
	msg := regErr.Error()
	for _, want := range []string{"RegisterBuffers", "shard 1 of 2", "RLIMIT_MEMLOCK", "once per shard", "2 shards"} {
		require.Contains(t, msg, want)
	}
	t.Logf("the error: %v", regErr)

	// Nothing is left registered: not in the Ring's books, not on any shard.
	require.ErrorContains(t, r.UnregisterBuffers(), "none registered")
	for i := range r.Shards() {
		require.ErrorIs(t, readFixed(i, big), syscall.EFAULT, "shard %d has a registered buffer", i)
	}

	// Two shards' worth of the small buffer fits only if shard 0 gave the
	// big buffer's pages back; then every shard has it.
	small := lockableBuffer(t, memlockSmall)
	require.NoError(t, r.RegisterBuffers([][]byte{small}), "shard 0 still holds the big buffer's charge")
	for i := range r.Shards() {
		require.NoError(t, readFixed(i, small), "shard %d", i)
	}
	require.NoError(t, r.UnregisterBuffers())

	// A ring of one shard takes the big buffer: it was the second shard's
	// charge that did not fit. Held, it leaves less than one shard's worth
	// of a large buffer ring free for r.
	one := newRing(t, uring.WithShards(1))
	filler := lockableBuffer(t, 1<<20) // 5 MiB in all: 512-1024 KiB left
	require.NoError(t, one.RegisterBuffers([][]byte{big, filler}))

	// A buffer ring of 32768 entries is 512 KiB of ring per shard, charged
	// to the same limit on Linux 6.18. It fits on shard 0 only; the failure
	// undoes shard 0's, so the group is free there again.
	const group, entries = 9, 32768
	br, err := r.NewBufferRing(group, entries, 1)
	if err == nil {
		require.NoError(t, br.Close())
		t.Log("this kernel does not charge buffer rings to RLIMIT_MEMLOCK: the buffer-ring check is left out")
	} else {
		require.ErrorIs(t, err, syscall.ENOMEM)
		require.ErrorContains(t, err, "NewBufferRing")
		require.ErrorContains(t, err, "shard 1 of 2")
		t.Logf("the error: %v", err)
	}
	require.NoError(t, one.UnregisterBuffers())
	br, err = r.NewBufferRing(group, entries, 1)
	require.NoError(t, err, "shard 0 kept the group, or its charge")
	require.NoError(t, br.Close())
}

// lockableBuffer returns n bytes of anonymous memory in small pages: the
// kernel charges a transparent huge page whole, which would make the
// budget depend on where the Go heap put a buffer.
func lockableBuffer(t *testing.T, n int) []byte {
	t.Helper()
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	require.NoError(t, err)
	require.NoError(t, unix.Madvise(b, unix.MADV_NOHUGEPAGE))
	t.Cleanup(func() { unix.Munmap(b) })
	return b
}
