package ringfd_test

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/internal/ringfd"
	"github.com/goaio/uring/ops"
)

var sockKind = &ringfd.Kind{ErrClosing: net.ErrClosed, CancelOnClose: true, SyscallErrors: true}

// newSock returns an FD on one end of a socket pair, and the other end.
func newSock(t *testing.T, kind *ringfd.Kind) (*ringfd.FD, int) {
	t.Helper()
	if err := uring.Available(); err != nil {
		if os.Getenv("URING_REQUIRE") == "1" {
			t.Fatalf("io_uring required: %v", err)
		}
		t.Skipf("io_uring unavailable: %v", err)
	}
	r, err := uring.New()
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(p[1]) })
	fd := new(ringfd.FD)
	fd.Init(r, p[0], kind)
	return fd, p[1]
}

// A passed deadline and Close end a blocked call with their own cause, as
// the identical error values std returns, not a guess made afterwards.
func TestErrorsAreExact(t *testing.T) {
	fd, _ := newSock(t, sockKind)
	buf := make([]byte, 8)

	fd.RD.Set(time.Now().Add(20 * time.Millisecond))
	_, err := fd.Read(ops.Recv(fd.Sysfd, buf, 0), "read")
	require.Same(t, os.ErrDeadlineExceeded, err)
	_, err = fd.Read(ops.Recv(fd.Sysfd, buf, 0), "read") // still passed: fails at once
	require.Same(t, os.ErrDeadlineExceeded, err)

	fd.RD.Set(time.Time{})
	done := make(chan error, 1)
	go func() {
		_, err := fd.Read(ops.Recv(fd.Sysfd, buf, 0), "read")
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let it block in the kernel
	require.NoError(t, fd.Close(func() error { return unix.Close(fd.Sysfd) }))
	require.Equal(t, net.ErrClosed, <-done)
	require.Equal(t, net.ErrClosed, fd.Close(nil), "second Close")
	_, err = fd.Write(ops.Send(fd.Sysfd, buf, 0), "write")
	require.Equal(t, net.ErrClosed, err, "call after Close")
}

// A user's context ends a call with that context's cause; an errno is named
// for a socket and bare for a file, as std's net and os report them.
func TestErrShapes(t *testing.T) {
	fd, _ := newSock(t, sockKind)
	defer fd.Close(func() error { return unix.Close(fd.Sysfd) })
	cause := errors.New("caller gave up")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	_, err := fd.Do(ctx, ops.Recv(fd.Sysfd, make([]byte, 1), 0), "read")
	require.Same(t, cause, err)

	var se *os.SyscallError
	err = fd.Err(context.Background(), "read", syscall.ECONNRESET)
	require.ErrorAs(t, err, &se)
	require.Equal(t, "read", se.Syscall)
	fileKind := &ringfd.Kind{ErrClosing: os.ErrClosed}
	ffd, _ := newSock(t, fileKind)
	defer ffd.Close(func() error { return unix.Close(ffd.Sysfd) })
	require.Equal(t, syscall.ECONNRESET, ffd.Err(context.Background(), "read", syscall.ECONNRESET))
	require.Same(t, os.ErrClosed, ffd.Err(context.Background(), "read", uring.ErrClosed), "a closed Ring is a closed file")
}

// A file's Close lets the call in flight finish with its real result, then
// releases; a socket's cancels it. release runs after the last call is out.
func TestCloseWaitsThenReleases(t *testing.T) {
	fileKind := &ringfd.Kind{ErrClosing: os.ErrClosed}
	fd, peer := newSock(t, fileKind)
	buf := make([]byte, 4)
	done := make(chan error, 1)
	go func() {
		res, err := fd.Read(ops.Recv(fd.Sysfd, buf, 0), "read")
		if err == nil && res.N() != 4 {
			err = errors.New("short read")
		}
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	released := make(chan struct{})
	go fd.Close(func() error { close(released); return unix.Close(fd.Sysfd) })
	select {
	case <-released:
		t.Fatal("released with a call in flight")
	case <-time.After(50 * time.Millisecond):
	}
	_, err := unix.Write(peer, []byte("data"))
	require.NoError(t, err)
	require.NoError(t, <-done, "the call in flight returns its real result")
	<-released
}
