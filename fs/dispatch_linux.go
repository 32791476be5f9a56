package fs

import (
	"math/bits"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The dispatch rule (docs/design.md, "Files: the dispatch rule"): the ring
// wins where the kernel would block a thread, and loses where it would not,
// since a plain system call here costs about a microsecond and a ring round
// trip more. So, per call:
//   - a buffered read first tries preadv2(RWF_NOWAIT), which copies what the
//     page cache holds and fails with EAGAIN instead of going to the device;
//     the rest goes to the ring;
//   - O_DIRECT reads and writes, and block devices, always go to the ring;
//   - writes and syncs of buffered files follow the rule the measurements chose
//     (writeRule, syncRule).

// path is how one kind of call on a File runs.
type path uint8

const (
	viaRing    path = iota // always an io_uring op
	viaNowait              // preadv2/pwritev2 with RWF_NOWAIT, the ring on EAGAIN
	viaSyscall             // a plain system call, as os.File makes
)

// Measurement knobs, read at open: URING_FS_READ, URING_FS_WRITE and
// URING_FS_SYNC = ring|nowait|syscall.
func knob(name string, def path) path {
	switch os.Getenv(name) {
	case "ring":
		return viaRing
	case "nowait":
		return viaNowait
	case "syscall":
		return viaSyscall
	}
	return def
}

// paths chooses how a File's reads, writes and syncs run: st is the File's
// Stat at open; fd is its descriptor.
func choosePaths(fd int, st os.FileInfo) (read, write, sync path) {
	if !st.Mode().IsRegular() {
		return viaRing, viaRing, viaRing // a block device: its page cache is the device's
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_DIRECT != 0 {
		return viaRing, viaRing, knob("URING_FS_SYNC", viaSyscall)
	}
	return knob("URING_FS_READ", viaNowait), knob("URING_FS_WRITE", viaSyscall), knob("URING_FS_SYNC", viaSyscall)
}

// rwNowait is RWF_NOWAIT, or 0 for a plain preadv2/pwritev2.
func (p path) flags() int {
	if p == viaNowait {
		return unix.RWF_NOWAIT
	}
	return 0
}

// inline moves b at off (-1: the file offset) with one system call when p
// says so. ok is false when the ring must do it: p is viaRing, or the kernel
// would have blocked (EAGAIN) or cannot say (EOPNOTSUPP: then noWait
// remembers, and later calls skip the attempt). Any other error is returned
// as the ring would return it.
func inline(p path, noWait *atomic.Bool, fd int, write bool, b []byte, off int64) (n int, err error, ok bool) {
	if p == viaRing || p == viaNowait && noWait.Load() {
		return 0, nil, false
	}
	for {
		n, err = rwv2(fd, write, b, off, p.flags())
		switch err {
		case nil:
			return n, nil, true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if p == viaNowait {
				return 0, nil, false
			}
		case syscall.EOPNOTSUPP:
			if p == viaNowait {
				noWait.Store(true)
				return 0, nil, false
			}
		}
		return 0, err, true
	}
}

// rwv2 is preadv2 or pwritev2 of the one buffer b: x/sys's versions take a
// [][]byte and build an iovec array per call.
func rwv2(fd int, write bool, b []byte, off int64, flags int) (int, error) {
	var iov unix.Iovec
	if len(b) > 0 {
		iov.Base = &b[0]
	}
	iov.SetLen(len(b))
	trap := uintptr(unix.SYS_PREADV2)
	if write {
		trap = unix.SYS_PWRITEV2
	}
	// The offset goes in two longs (low, high), as on 32-bit systems.
	lo, hi := uintptr(off), uintptr(uint64(off)>>(bits.UintSize-1)>>1)
	n, _, e := syscall.Syscall6(trap, uintptr(fd), uintptr(unsafe.Pointer(&iov)), 1, lo, hi, uintptr(flags))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// sysFsync is fsync(2), retried on EINTR as os.File.Sync does.
func sysFsync(fd int) error {
	for {
		if err := unix.Fsync(fd); err != unix.EINTR {
			return err
		}
	}
}
