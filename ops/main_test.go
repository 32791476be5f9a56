//go:build linux

package ops_test

// Helpers shared by the kernel tests of this package: every test runs its ops
// through a real uring.Ring on the running kernel.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

// TestMain fails the run if a test leaves a goroutine behind (a Ring that
// was not closed, a stuck reaper). Without io_uring (and without
// URING_REQUIRE) the examples, which cannot skip, are left out with the reason.
func TestMain(m *testing.M) {
	flag.Parse()
	if err := uring.Available(); err != nil && os.Getenv("URING_REQUIRE") == "" {
		fmt.Printf("ops: examples skipped: %v\n", err)
		flag.Set("test.skip", "^Example")
	}
	goleak.VerifyTestMain(m)
}

// newRing returns a Ring closed at the end of the test. Without io_uring the
// test is skipped, unless URING_REQUIRE is set (CI), where it fails. It has
// one shard unless opts say otherwise: these tests are about what one
// io_uring instance does (its provided buffers, the messages sent to its fd).
func newRing(t testing.TB, opts ...uring.Option) *uring.Ring {
	t.Helper()
	r, err := uring.New(append([]uring.Option{uring.WithShards(1)}, opts...)...)
	if errors.Is(err, uring.ErrUnsupported) && os.Getenv("URING_REQUIRE") == "" {
		t.Skipf("io_uring unavailable: %v", err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, r.Close()) })
	return r
}

// needOp skips the test when the kernel lacks the opcode.
func needOp(t testing.TB, r *uring.Ring, codes ...ops.Opcode) {
	t.Helper()
	for _, c := range codes {
		if !r.Probe().Supports(c) {
			t.Skipf("kernel lacks the io_uring operation %s (IORING_OP_%s)", c, strings.ToUpper(c.String()))
		}
	}
}

// do runs op and requires success.
func do(t testing.TB, r *uring.Ring, op ops.Op) uring.Result {
	t.Helper()
	res, err := r.Do(context.Background(), op)
	require.NoError(t, err, "%s", op.Opcode)
	require.GreaterOrEqual(t, res.Res, int32(0))
	return res
}

// closeFd closes fd at the end of the test.
func closeFd(t testing.TB, fd int) {
	t.Cleanup(func() { unix.Close(fd) })
}

// pipe returns a blocking pipe (io_uring parks reads on it instead of
// returning EAGAIN), closed at the end of the test.
func pipe(t testing.TB) (r, w int) {
	t.Helper()
	var p [2]int
	require.NoError(t, unix.Pipe2(p[:], unix.O_CLOEXEC))
	closeFd(t, p[0])
	closeFd(t, p[1])
	return p[0], p[1]
}

// tempFile creates a file with content in t.TempDir and opens it read-write.
func tempFile(t testing.TB, content []byte) (path string, fd int) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(path, content, 0o644))
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	closeFd(t, fd)
	return path, fd
}

// openDir opens dir as a directory fd for the *at operations.
func openDir(t testing.TB, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	closeFd(t, fd)
	return fd
}

// requireClosed checks that fd no longer names an open file.
func requireClosed(t testing.TB, fd int) {
	t.Helper()
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	require.ErrorIs(t, err, unix.EBADF)
}

// requireIdle checks that the ring ends up with nothing in flight. The
// ring's own requests (the cancel a Stream sends when the loop breaks) may
// still be completing when the call that sent them returned.
func requireIdle(t testing.TB, r *uring.Ring) {
	t.Helper()
	require.Eventually(t, func() bool { return r.Stats().InFlight == 0 }, time.Second, time.Millisecond,
		"requests left in flight: %+v", r.Stats())
}

// requireRejected checks that Do returns op's constructor error without
// submitting anything.
func requireRejected(t *testing.T, r *uring.Ring, op ops.Op, want error) {
	t.Helper()
	require.ErrorIs(t, op.Err(), want)
	before := r.Stats().Submitted
	_, err := r.Do(context.Background(), op)
	require.ErrorIs(t, err, want)
	require.Equal(t, before, r.Stats().Submitted, "a rejected op must not reach the kernel")
}
