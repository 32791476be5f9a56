// Package fs is a drop-in for os.File in hot paths: Open, Create and OpenFile
// open files exactly as the os package does, and each call on a File then
// takes the path measured cheapest on its file system, which the File learns
// when it opens (docs/design.md, "Files on every file system"; File.Route
// reports it):
//   - A buffered read, on a file system that can refuse a read it would
//     block on (ext4, xfs, btrfs), is preadv2 with RWF_NOWAIT, and what the
//     page cache misses goes to an io_uring Ring (uring.Default unless
//     WithRing gives one). After a run of cached reads, a window of reads is
//     pread64, as os makes them.
//   - On tmpfs, overlayfs, FUSE and any other file system that refuses
//     RWF_NOWAIT, where io_uring would hand every read to a worker thread,
//     every buffered read is pread64.
//   - O_DIRECT reads and writes go to the ring, except on tmpfs, FUSE and
//     the other file systems that refuse RWF_NOWAIT (overlayfs keeps the
//     ring), where they are system calls. Reads, writes and syncs of a block
//     device go to the ring.
//   - Buffered writes, and fsync, fdatasync, sync_file_range, fallocate and
//     fadvise of regular files, are system calls: io_uring would only hand
//     them to a worker thread.
//   - ReadFrom and WriteTo copy in the kernel where they can:
//     copy_file_range between files, sendfile into a socket, splice(2) with
//     a pipe or from a stream socket. Other copies move 256 KiB at a time by
//     the rules above.
//   - ReadFile reads as ReadAt does. ReadFiles batches its opens, statx
//     calls and closes on the ring; its reads, and ReadAtv's, are one batch
//     on the ring too, except where buffered reads are pread64 (above):
//     there each is a system call.
//   - Close waits for the File's calls in flight, then closes it as os.File
//     does. Every other method (Stat, Seek, Truncate, ReadDir, ...) is
//     os.File's.
//
// The Context methods cancel a call on the ring; a system call runs to its
// end, as os.File's does. Results and errors are those of os.File:
// *os.PathError with the same Op and Path, io.EOF at the end, os.ErrClosed
// after Close.
//
// Where io_uring is unavailable, with WithoutRing, and for files that are not
// regular files or block devices (pipes, terminals, sockets: their deadlines
// live in Go's netpoller), every method is os.File's own.
package fs

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/goaio/uring"
	"github.com/goaio/uring/internal/ringfd"
	"github.com/goaio/uring/ops"
)

// File is an open file. Its methods are safe for concurrent use: Read, Write
// and Seek share one file offset, as with os.File; ReadAt and WriteAt do not
// touch it and run in parallel.
type File struct {
	f      *os.File
	pfd    ringfd.FD  // its Ring is nil when every call goes to f
	posMu  sync.Mutex // serialises offset-based calls (Read, Write, Seek)
	append bool

	rule dispatch // how reads, writes and syncs run (dispatch_linux.go)
}

// Option configures how a File is opened.
type Option func(*options)

type options struct {
	ring     *uring.Ring
	fallback bool
}

// WithRing makes the File use r instead of uring.Default().
func WithRing(r *uring.Ring) Option { return func(o *options) { o.ring = r } }

// WithoutRing makes the File use the os package only: the fallback that
// runs where io_uring is unavailable, on demand.
func WithoutRing() Option { return func(o *options) { o.fallback = true } }

// Open opens name for reading, like os.Open.
func Open(name string, opts ...Option) (*File, error) {
	return OpenFile(name, os.O_RDONLY, 0, opts...)
}

// Create creates or truncates name, like os.Create.
func Create(name string, opts ...Option) (*File, error) {
	return OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666, opts...)
}

// OpenFile opens name with flag and perm exactly as os.OpenFile does
// (O_DIRECT, O_SYNC, O_APPEND, O_EXCL, O_TMPFILE included) and returns its
// errors unchanged.
func OpenFile(name string, flag int, perm os.FileMode, opts ...Option) (*File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return newFile(f, flag, opts), nil
}

// NewFile adopts fd, like os.NewFile; it returns nil for an invalid fd.
func NewFile(fd uintptr, name string, opts ...Option) *File {
	f := os.NewFile(fd, name)
	if f == nil {
		return nil
	}
	// Its open flags, as os.NewFile reads them: O_APPEND decides WriteAt
	// and the copy paths, O_DIRECT the dispatch rule.
	return newFile(f, openFlags(f), opts)
}

// flagsUnknown: a descriptor whose open flags the kernel did not tell.
const flagsUnknown = -1

func newFile(f *os.File, flag int, opts []Option) *File {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	file := &File{f: f, append: flag != flagsUnknown && flag&os.O_APPEND != 0}
	r := ringfd.RingFor(o.ring, o.fallback)
	if r == nil {
		return file // io_uring unavailable, or not wanted: os it is
	}
	fd, ok := ringFd(f)
	if !ok {
		return file
	}
	regular, m, ok := fileOnRing(fd)
	if !ok {
		return file // not a regular file or block device: os.File's own paths
	}
	file.pfd.Init(r, fd, fileKind)
	file.rule.choose(fd, regular, m, flag)
	return file
}

// fileKind is what a File's descriptor layer reports like os.File does.
var fileKind = &ringfd.Kind{ErrClosing: os.ErrClosed}

// ringFd returns f's descriptor, read through SyscallConn, which, unlike
// Fd, leaves the blocking mode alone. Only regular files and block devices,
// which never return EAGAIN, go on to the ring: newFile checks the type.
func ringFd(f *os.File) (int, bool) {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, false
	}
	fd := -1
	if rc.Control(func(u uintptr) { fd = int(u) }) != nil {
		return -1, false
	}
	return fd, fd >= 0
}

// UsesRing reports whether the File's I/O goes through io_uring.
func (f *File) UsesRing() bool { return f != nil && f.pfd.Ring != nil }

// osFile returns the *os.File, nil for a nil File: os's methods on a nil
// *os.File then give what ours must (os.ErrInvalid; Fd's ^0; Name panics).
func (f *File) osFile() *os.File {
	if f == nil {
		return nil
	}
	return f.f
}

// Name returns the name the file was opened with.
func (f *File) Name() string { return f.osFile().Name() }

// Fd returns the file descriptor, as os.File.Fd does.
func (f *File) Fd() uintptr { return f.osFile().Fd() }

// OS returns the underlying *os.File, for APIs that need one.
func (f *File) OS() *os.File { return f.osFile() }

// pathErr gives err, already in os's terms (ringfd.FD.Err), os's shape.
func (f *File) pathErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return &os.PathError{Op: op, Path: f.f.Name(), Err: err}
}

// Read reads up to len(b) bytes at the file offset, like os.File.Read.
func (f *File) Read(b []byte) (int, error) { return f.ReadContext(context.Background(), b) }

// ReadContext is Read with cancellation: when ctx ends, a read on the ring
// is cancelled, and the call returns once the kernel is done with b. A read
// the page cache serves, and every read on a file system without
// non-blocking reads (tmpfs, overlayfs, FUSE), runs as one system call and
// is not interrupted (the dispatch rule, docs/design.md; Route says which).
func (f *File) ReadContext(ctx context.Context, b []byte) (int, error) {
	if !f.UsesRing() {
		return f.osFile().Read(b)
	}
	if len(b) == 0 {
		if f.pfd.Closed() {
			return 0, f.pathErr("read", os.ErrClosed)
		}
		return 0, nil
	}
	if len(b) > maxRW {
		b = b[:maxRW] // a short count, as os.File.Read gives
	}
	if err := f.pfd.Incref(); err != nil {
		return 0, f.pathErr("read", err)
	}
	f.posMu.Lock()
	n, err := f.once(ctx, false, b, -1)
	f.posMu.Unlock()
	f.pfd.Decref()
	if err != nil {
		return 0, f.pathErr("read", err)
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// ReadAt reads len(b) bytes at off, like os.File.ReadAt: it returns io.EOF
// with fewer bytes at the end of the file.
func (f *File) ReadAt(b []byte, off int64) (int, error) {
	return f.ReadAtContext(context.Background(), b, off)
}

// ReadAtContext is ReadAt with cancellation.
func (f *File) ReadAtContext(ctx context.Context, b []byte, off int64) (int, error) {
	if !f.UsesRing() {
		return f.osFile().ReadAt(b, off)
	}
	if off < 0 {
		return 0, f.pathErr("readat", errNegativeOffset)
	}
	if len(b) == 0 && f.pfd.Closed() { // otherwise the read itself reports it
		return 0, f.pathErr("read", os.ErrClosed)
	}
	return f.transfer(ctx, false, b, off)
}

// maxRW caps one read or write (ringfd.MaxRW).
const maxRW = ringfd.MaxRW

// transfer moves all of b with as many ring ops as it takes, at most maxRW
// bytes each, from off on (-1: at the file offset), as os.File's ReadAt,
// Write and WriteAt loops do. A read that returns nothing ends with io.EOF, a
// write with io.ErrUnexpectedEOF.
func (f *File) transfer(ctx context.Context, write bool, b []byte, off int64) (int, error) {
	name, zero := "read", io.EOF
	if write {
		name, zero = "write", io.ErrUnexpectedEOF
	}
	if len(b) == 0 {
		return 0, nil // as os: nothing to move, no call (the callers report a Close)
	}
	// The common case, one step that moves it all, without the loop's closure.
	if err := f.pfd.Incref(); err != nil {
		return 0, f.pathErr(name, err)
	}
	n, err := f.once(ctx, write, b[:min(len(b), maxRW)], off)
	f.pfd.Decref()
	if err == nil && n == len(b) && n > 0 {
		return n, nil
	}
	if err != nil || n == 0 {
		if err == nil {
			err = zero
		}
		if err != io.EOF {
			err = f.pathErr(name, err)
		}
		return 0, err
	}
	// The rest in the loop; like os, a Close meanwhile ends it.
	first := n
	if off >= 0 {
		off += int64(first)
	}
	n, err = f.pfd.Transfer(b[first:], zero, func(chunk []byte, done int) (int, error) {
		at := off
		if off >= 0 {
			at += int64(done)
		}
		return f.once(ctx, write, chunk, at)
	})
	if err != nil && err != io.EOF {
		err = f.pathErr(name, err)
	}
	return first + n, err
}

// once makes one read or write of b at off (-1: the file offset) for a
// caller that holds a reference, on the path the dispatch rule chose: a
// system call when that is cheaper, else (or when it would block) the ring.
func (f *File) once(ctx context.Context, write bool, b []byte, off int64) (int, error) {
	op := ops.Read
	if write {
		op = ops.Write
	}
	if ctx.Err() == nil { // a cancelled call reports it the ring's way
		if n, err, ok := f.rule.inline(f.pfd.Sysfd, write, b, off); ok {
			return n, err
		}
	}
	res, err := f.pfd.DoRef(ctx, op(f.pfd.Sysfd, b, off), "")
	return res.N(), err
}

// errNegativeOffset has os.File's message for a negative ReadAt/WriteAt offset.
var errNegativeOffset = errors.New("negative offset")

// errWriteAtInAppendMode is os.File's error for WriteAt on an O_APPEND file.
var errWriteAtInAppendMode = errors.New("os: invalid use of WriteAt on file opened with O_APPEND")

// Write writes b at the file offset (at the end with O_APPEND), like
// os.File.Write: it writes everything or returns an error.
func (f *File) Write(b []byte) (int, error) { return f.WriteContext(context.Background(), b) }

// WriteContext is Write with cancellation. Only a write on the ring (an
// O_DIRECT file, a block device) can be cancelled: a buffered write is one
// system call into the page cache, as with os.File (docs/design.md).
func (f *File) WriteContext(ctx context.Context, b []byte) (int, error) {
	if !f.UsesRing() {
		return f.osFile().Write(b)
	}
	if f.pfd.Closed() {
		return 0, f.pathErr("write", os.ErrClosed)
	}
	f.posMu.Lock()
	defer f.posMu.Unlock()
	if len(b) == 0 { // a zero-byte write still reaches the kernel, as with os.File
		_, err := f.pfd.Do(ctx, ops.Write(f.pfd.Sysfd, nil, -1), "")
		return 0, f.pathErr("write", err)
	}
	return f.transfer(ctx, true, b, -1)
}

// WriteString writes s, like os.File.WriteString.
func (f *File) WriteString(s string) (int, error) { return f.Write([]byte(s)) }

// WriteAt writes b at off, like os.File.WriteAt (an error on an O_APPEND file).
func (f *File) WriteAt(b []byte, off int64) (int, error) {
	return f.WriteAtContext(context.Background(), b, off)
}

// WriteAtContext is WriteAt with cancellation.
func (f *File) WriteAtContext(ctx context.Context, b []byte, off int64) (int, error) {
	if !f.UsesRing() {
		return f.osFile().WriteAt(b, off)
	}
	if f.append {
		return 0, errWriteAtInAppendMode
	}
	if off < 0 {
		return 0, f.pathErr("writeat", errNegativeOffset)
	}
	if len(b) == 0 && f.pfd.Closed() { // otherwise the write itself reports it
		return 0, f.pathErr("write", os.ErrClosed)
	}
	return f.transfer(ctx, true, b, off)
}

// Seek sets the offset for the next Read or Write, like os.File.Seek.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	if f == nil {
		return f.osFile().Seek(offset, whence)
	}
	f.posMu.Lock()
	defer f.posMu.Unlock()
	return f.f.Seek(offset, whence)
}

// Sync commits the file's contents to stable storage, like os.File.Sync.
func (f *File) Sync() error { return f.SyncContext(context.Background()) }

// SyncContext is Sync with ctx checked first: a regular file's fsync is a
// system call, as io_uring would only hand it to a worker thread.
func (f *File) SyncContext(ctx context.Context) error {
	if !f.UsesRing() {
		return f.osFile().Sync()
	}
	if f.rule.sync == viaSyscall && ctx.Err() == nil {
		return f.sysCall("sync", sysFsync)
	}
	_, err := f.pfd.Do(ctx, ops.Fsync(f.pfd.Sysfd), "")
	return f.pathErr("sync", err)
}

// Close closes the file once the reads and writes in flight have finished,
// so an fd number is never reused under a running operation. As with
// os.File, they are not cancelled (a regular file's I/O always completes):
// they return their real result, and calls after Close return os.ErrClosed,
// wrapped. A second Close returns os.ErrClosed, wrapped.
func (f *File) Close() error {
	if f == nil {
		return os.ErrInvalid
	}
	if f.pfd.Ring != nil {
		return f.pathErr("close", f.pfd.Close(f.f.Close))
	}
	return f.f.Close()
}

// Stat returns the file's FileInfo, like os.File.Stat.
func (f *File) Stat() (os.FileInfo, error) { return f.osFile().Stat() }

// Truncate changes the file's size, like os.File.Truncate.
func (f *File) Truncate(size int64) error { return f.osFile().Truncate(size) }

// Chmod changes the file's mode, like os.File.Chmod.
func (f *File) Chmod(mode os.FileMode) error { return f.osFile().Chmod(mode) }

// Chown changes the file's owner, like os.File.Chown.
func (f *File) Chown(uid, gid int) error { return f.osFile().Chown(uid, gid) }

// Chdir makes the file (a directory) the working directory.
func (f *File) Chdir() error { return f.osFile().Chdir() }

// ReadDir reads directory entries, like os.File.ReadDir.
func (f *File) ReadDir(n int) ([]os.DirEntry, error) { return f.osFile().ReadDir(n) }

// Readdir reads directory entries as FileInfo, like os.File.Readdir.
func (f *File) Readdir(n int) ([]os.FileInfo, error) { return f.osFile().Readdir(n) }

// Readdirnames reads directory entry names, like os.File.Readdirnames.
func (f *File) Readdirnames(n int) ([]string, error) { return f.osFile().Readdirnames(n) }

// SyscallConn returns the raw file, like os.File.SyscallConn.
func (f *File) SyscallConn() (syscall.RawConn, error) { return f.osFile().SyscallConn() }

// ReadFrom copies r into the file at its offset, like os.File.ReadFrom, on
// the fastest path that applies: from a non-blocking pipe splice(2) moves
// it without copying through user space (io_uring would hand each splice
// to a worker thread: slower); from a TCP or unix stream socket or another
// file, os.File's ReadFrom does (copy_file_range between files, splice(2)
// from std's sockets); from anything else it is copied 256 KiB at a time
// through Write, which takes the dispatch rule's path (a buffered write is
// a system call). An *io.LimitedReader bounds every path.
func (f *File) ReadFrom(r io.Reader) (int64, error) {
	if f == nil {
		return f.osFile().ReadFrom(r)
	}
	if f.pfd.Ring == nil {
		if src, ok := r.(*File); ok && src.UsesRing() && isPipe(f) {
			return src.WriteTo(f) // file → pipe: the source splices
		}
		return f.f.ReadFrom(r)
	}
	lr, inner, remain := ringfd.UnwrapLimited(r)
	if remain <= 0 {
		return 0, nil
	}
	if n, handled, err := f.spliceFrom(inner, remain); handled {
		if lr != nil {
			lr.N -= n
		}
		return n, err
	}
	if src, ok := r.(*File); ok {
		if src.UsesRing() {
			if err := src.pfd.Incref(); err != nil {
				return 0, src.pathErr("read", err)
			}
			defer src.pfd.Decref()
		}
		r = src.f
	}
	if src, ok := r.(*os.File); ok {
		// os.File holds the descriptor by its own reference, which a source
		// that blocks (a terminal) must not turn into a wait in Close (see
		// spliceFrom).
		if f.pfd.Closed() {
			return 0, f.pathErr("write", os.ErrClosed)
		}
		f.posMu.Lock()
		defer f.posMu.Unlock()
		return f.f.ReadFrom(src)
	}
	return genericReadFrom(f, r)
}

// isPipe reports whether f is open on a pipe.
func isPipe(f *File) bool {
	st, err := f.f.Stat()
	return err == nil && st.Mode()&os.ModeNamedPipe != 0
}

// WriteTo copies the file from its offset into w, like os.File.WriteTo, on
// the fastest path that applies: into another file the kernel copies
// directly (copy_file_range); into a non-blocking pipe splice(2) moves it;
// into a socket the kernel sends (sendfile, as os.File does); into anything
// else it is copied 256 KiB at a time through Read, which takes the
// dispatch rule's path (a cached read is a system call, a miss may go to
// the ring).
func (f *File) WriteTo(w io.Writer) (int64, error) {
	if !f.UsesRing() {
		return f.osFile().WriteTo(w)
	}
	if n, handled, err := f.spliceTo(w); handled {
		return n, err
	}
	switch dst := w.(type) {
	case *File:
		return dst.ReadFrom(f)
	case *os.File, syscall.Conn:
		// Another file, or a socket: the kernel copies directly
		// (copy_file_range, sendfile), as it does for os.File, which holds
		// the descriptor by its own reference (see spliceFrom: a socket that
		// never drains must not hold Close).
		if f.pfd.Closed() {
			return 0, f.pathErr("read", os.ErrClosed)
		}
		f.posMu.Lock()
		defer f.posMu.Unlock()
		return f.f.WriteTo(w)
	}
	return genericWriteTo(f, w)
}

// SetDeadline sets read and write deadlines, like os.File.SetDeadline:
// regular files return os.ErrNoDeadline.
func (f *File) SetDeadline(t time.Time) error { return f.osFile().SetDeadline(t) }

// SetReadDeadline sets the read deadline, like os.File.SetReadDeadline.
func (f *File) SetReadDeadline(t time.Time) error { return f.osFile().SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline, like os.File.SetWriteDeadline.
func (f *File) SetWriteDeadline(t time.Time) error { return f.osFile().SetWriteDeadline(t) }

// sysCall runs the system call fn on the ring's descriptor under a
// reference, for the calls the dispatch rule keeps off the ring.
func (f *File) sysCall(op string, fn func(fd int) error) error {
	if err := f.pfd.Incref(); err != nil {
		return f.pathErr(op, err)
	}
	defer f.pfd.Decref()
	return f.pathErr(op, fn(f.pfd.Sysfd))
}
