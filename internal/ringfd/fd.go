// Package ringfd is the descriptor layer under fs and net: the counterpart
// of internal/poll.FD for a Ring. An FD owns the descriptor, the Ring its
// ring operations go to, the count of calls in flight with the closing
// state, the read and write deadlines, the Close sequence, and the one place
// where a ring call's error becomes the error the package reports. Which
// calls are ring operations and which are plain system calls (a file's
// cached reads and buffered writes, a stream socket's data) is fs's and
// net's rule; the references and the Close sequence cover both kinds.
// fs.File and net's conns are shapes over it: they add only the error's
// type (*os.PathError, *net.OpError) and their own semantics.
package ringfd

import (
	"context"
	"errors"
	"os"
	"syscall"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

// Kind is what differs between the packages' descriptors.
type Kind struct {
	// ErrClosing is what a call on a closed FD returns: os.ErrClosed for
	// files, net.ErrClosed for sockets.
	ErrClosing error
	// CancelOnClose makes Close cancel the calls in flight, as a socket's
	// may wait forever; a file's always complete, so Close lets them finish.
	CancelOnClose bool
	// SyscallErrors wraps an errno in *os.SyscallError naming the call, as
	// net reports errors (os puts the bare errno in *os.PathError).
	SyscallErrors bool
	// Closing, if set, runs once Close has marked an FD closed, before it
	// cancels and waits: it stops what would arm new requests (a listener's
	// accept-ahead), which a kernel cancel alone could miss, and wakes the
	// calls waiting outside the ring. On the Kind, not the FD: a field per
	// FD would be memory per idle connection.
	Closing func(*FD)
}

// FD is a descriptor whose I/O goes through a Ring. Call Init before use.
type FD struct {
	Ring   *uring.Ring
	Sysfd  int
	kind   *Kind
	ref    refcount
	RD, WD Deadline // read and write deadlines (sockets)

}

// Init readies fd for sysfd on r.
func (fd *FD) Init(r *uring.Ring, sysfd int, kind *Kind) {
	fd.Ring, fd.Sysfd, fd.kind = r, sysfd, kind
}

// Incref takes a reference for a call, so Close waits for it; ErrClosing
// once the FD is closed.
func (fd *FD) Incref() error {
	if !fd.ref.Incref() {
		return fd.kind.ErrClosing
	}
	return nil
}

// Decref drops a reference taken by Incref.
func (fd *FD) Decref() { fd.ref.Decref() }

// Closed reports whether Close was called.
func (fd *FD) Closed() bool { return fd.ref.Closed() }

// Do runs op under a reference and ctx; name is the system call op stands
// for, named in socket errors.
func (fd *FD) Do(ctx context.Context, op ops.Op, name string) (uring.Result, error) {
	if !fd.ref.Incref() {
		return uring.Result{}, fd.kind.ErrClosing
	}
	defer fd.ref.Decref()
	return fd.DoRef(ctx, op, name)
}

// DoRef is Do for a caller that holds a reference.
func (fd *FD) DoRef(ctx context.Context, op ops.Op, name string) (uring.Result, error) {
	res, err := fd.Ring.Do(ctx, op)
	if err != nil {
		return res, fd.Err(ctx, name, err)
	}
	return res, nil
}

// Read runs op under the read deadline, Write under the write deadline.
func (fd *FD) Read(op ops.Op, name string) (uring.Result, error) {
	return fd.Do(fd.RD.Context(), op, name)
}

func (fd *FD) Write(op ops.Op, name string) (uring.Result, error) {
	return fd.Do(fd.WD.Context(), op, name)
}

// Err is the error a call that ran under ctx reports for err: ErrClosing
// when the Ring or Close ended it, ctx's cause when ctx did (a deadline's
// cause is os.ErrDeadlineExceeded, Close's ErrClosing: known, not guessed
// afterwards), and an errno as the Kind reports it.
func (fd *FD) Err(ctx context.Context, name string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, uring.ErrClosed):
		return fd.kind.ErrClosing
	case ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		return context.Cause(ctx)
	case errors.Is(err, syscall.ECANCELED) && fd.ref.Closed():
		return fd.kind.ErrClosing // Close's kernel cancel
	}
	var errno syscall.Errno
	if fd.kind.SyscallErrors && errors.As(err, &errno) {
		return os.NewSyscallError(name, errno)
	}
	return err
}

// Close closes the FD once: it marks it closed (later calls get
// ErrClosing), and if the Kind says so ends the deadlines and cancels the
// calls in flight on the Ring; waits until none is left, so that the number is
// never reused under one, and then runs release, which closes the
// descriptor. A second Close returns ErrClosing.
func (fd *FD) Close(release func() error) error {
	if !fd.ref.Close() {
		return fd.kind.ErrClosing
	}
	if fd.kind.CancelOnClose {
		fd.RD.close(fd.kind.ErrClosing)
		fd.WD.close(fd.kind.ErrClosing)
	}
	if fd.kind.Closing != nil {
		fd.kind.Closing(fd)
	}
	if fd.ref.Wait() {
		if fd.kind.CancelOnClose {
			_, _ = fd.Ring.CancelFD(context.Background(), fd.Sysfd)
		}
		fd.ref.WaitZero()
	}
	return release()
}

// MaxRW caps one read or write, as internal/poll does: an op's length has
// 32 bits, and Linux moves at most about 2 GiB per call anyway.
const MaxRW = 1 << 30

// Transfer is the op loop: it moves all of b with as many steps as it takes,
// each at most MaxRW bytes, under one reference for the whole loop (as
// poll.FD holds its read or write lock: a Close meanwhile lets the call
// finish, or cancels it, by the Kind). step moves chunk, which starts done
// bytes into b. A step that moves nothing ends the loop with zero (io.EOF
// for a read, io.ErrUnexpectedEOF for a write).
func (fd *FD) Transfer(b []byte, zero error, step func(chunk []byte, done int) (int, error)) (int, error) {
	if !fd.ref.Incref() {
		return 0, fd.kind.ErrClosing
	}
	defer fd.ref.Decref()
	done := 0
	for done < len(b) {
		n, err := step(b[done:min(len(b), done+MaxRW)], done)
		if err != nil {
			return done, err
		}
		if n == 0 {
			return done, zero
		}
		done += n
	}
	return done, nil
}
