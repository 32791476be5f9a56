package fs

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A File learns what its file system can do once per mount, when it opens:
// whether a read the page cache cannot serve can be refused without
// blocking (preadv2 with RWF_NOWAIT). Where it cannot (tmpfs, overlayfs,
// FUSE answer EOPNOTSUPP), io_uring cannot either: it hands every such read
// to an io-wq worker thread, a thread hand-off and a wake-up per read (41 µs
// of CPU against os's 1.6 µs for a cached 4 KiB read on tmpfs), so reads
// there are the system call os makes (docs/design.md, "Files on every file
// system").

// mount is what the dispatch rule knows of one mounted file system.
type mount struct {
	fsType int64 // statfs f_type
	noSwap bool  // no swap when first seen: a memory file system's pages stay in memory
	nowait atomic.Int32
}

// nowait states.
const (
	nowaitUnknown int32 = iota // no read answered yet: try RWF_NOWAIT
	nowaitNo                   // EOPNOTSUPP: reads are plain system calls
)

// mounts maps a mount's ID (statx's STATX_MNT_ID_UNIQUE, which is never
// reused, or STATX_MNT_ID before Linux 6.8) to its *mount.
var mounts sync.Map

// mountOf returns the mount of the file system fd is open on, whose mount
// ID is mntID, learning its type with fstatfs on first sight. The file
// systems known to refuse RWF_NOWAIT reads start as such; on any other the
// first read that is refused (EOPNOTSUPP) tells the mount, and later Files
// route by it. No probe read: a read, even past the end, would touch the
// file's atime on xfs and btrfs.
func mountOf(fd int, mntID uint64) *mount {
	if m, ok := mounts.Load(mntID); ok {
		return m.(*mount)
	}
	var st unix.Statfs_t
	for unix.Fstatfs(fd, &st) == syscall.EINTR {
	}
	m := &mount{fsType: int64(st.Type)}
	if m.inMemory() {
		m.noSwap = swapTotal() == 0
	}
	switch m.fsType {
	case tmpfsMagic, ramfsMagic, overlayMagic, fuseMagic:
		m.nowait.Store(nowaitNo)
	}
	got, _ := mounts.LoadOrStore(mntID, m)
	return got.(*mount)
}

// noNowait reports that the mount's file system has no RWF_NOWAIT reads.
func (m *mount) noNowait() bool { return m != nil && m.nowait.Load() == nowaitNo }

// directOnRing reports whether O_DIRECT I/O goes to the ring on this file
// system: where RWF_NOWAIT works (ext4, xfs, btrfs: the ring issues it
// without a worker thread), and on overlayfs, where io-wq's workers still
// beat os's threads (1.79x at 64 goroutines). Everywhere else it is the
// system call: on tmpfs an O_DIRECT read is a copy from memory, and on FUSE
// the ring measured 0.52x os (docs/design.md). A file system whose reads
// have not been refused counts as one with RWF_NOWAIT, as choose's buffered
// path does.
func (m *mount) directOnRing() bool {
	return m == nil || m.fsType == overlayMagic || !m.noNowait() && !m.inMemory()
}

// inMemory reports a file system whose pages have no device behind them.
func (m *mount) inMemory() bool {
	return m != nil && (m.fsType == tmpfsMagic || m.fsType == ramfsMagic)
}

const (
	tmpfsMagic   = 0x01021994
	ramfsMagic   = 0x858458f6
	overlayMagic = 0x794c7630
	fuseMagic    = 0x65735546
)

// name is the file system's name for f_type, as /proc/mounts spells it.
func (m *mount) name() string {
	if m == nil {
		return ""
	}
	if n, ok := fsNames[m.fsType]; ok {
		return n
	}
	return fmt.Sprintf("0x%x", m.fsType)
}

// fsNames: statfs f_type values (linux/magic.h) of the file systems a Go
// service meets.
var fsNames = map[int64]string{
	0xef53:     "ext4", // ext2 and ext3 share it
	0x58465342: "xfs",
	0x9123683e: "btrfs",
	0x01021994: "tmpfs",
	0x858458f6: "ramfs",
	0x794c7630: "overlay",
	0x65735546: "fuse",
	0x6969:     "nfs",
	0xff534d42: "cifs",
	0xfe534d42: "smb2",
	0x01021997: "9p",
	0x2fc12fc1: "zfs",
	0xf2f52010: "f2fs",
	0x73717368: "squashfs",
	0x00c36400: "ceph",
	0x62656572: "sysfs",
	0x9fa0:     "proc",
	0x1373:     "devtmpfs",
}

// fileOnRing says whether the ring should do the I/O of fd: regular files
// and block devices, which never return EAGAIN, do; pipes, terminals and
// sockets keep os.File's paths, whose deadlines live in Go's netpoller. For
// a regular file it returns its mount too.
func fileOnRing(fd int) (regular bool, m *mount, ok bool) {
	var st unix.Statx_t
	if statID(fd, &st) != nil {
		return false, nil, false
	}
	switch uint32(st.Mode) & syscall.S_IFMT {
	case syscall.S_IFBLK:
		return false, nil, true
	case syscall.S_IFREG:
		return true, mountOf(fd, mountKey(&st)), true
	}
	return false, nil, false
}

// statID is statx of fd for its type, size and mount ID: the type says
// whether the ring may do its I/O, the ID keys its mount (mountKey).
func statID(fd int, st *unix.Statx_t) error {
	for {
		err := statxFd(fd, unix.STATX_TYPE|unix.STATX_MODE|unix.STATX_SIZE|unix.STATX_MNT_ID|unix.STATX_MNT_ID_UNIQUE, st)
		if err != syscall.EINTR {
			return err
		}
	}
}

// mountKey is the key of st's mount in mounts. Without STATX_MNT_ID_UNIQUE
// (before Linux 6.8) the kernel fills the old ID, which a later mount may
// reuse: a stale answer then only picks a slower path, never a wrong
// result. Bit 63 keeps the two kinds apart.
func mountKey(st *unix.Statx_t) uint64 {
	if st.Mask&unix.STATX_MNT_ID_UNIQUE == 0 {
		return st.Mnt_id | 1<<63
	}
	return st.Mnt_id
}

// statxFd is statx(fd, "", AT_EMPTY_PATH): the empty path is a static
// C string, where unix.Statx makes one on the heap per call.
func statxFd(fd int, mask int, st *unix.Statx_t) error {
	_, _, e := syscall.Syscall6(unix.SYS_STATX, uintptr(fd), uintptr(unsafe.Pointer(&emptyPath[0])),
		unix.AT_EMPTY_PATH, uintptr(mask), uintptr(unsafe.Pointer(st)), 0)
	if e != 0 {
		return e
	}
	return nil
}

var emptyPath = [1]byte{0}

// fileSystemOf names f's file system, for a File off the ring.
func fileSystemOf(f *os.File) string {
	if f == nil {
		return ""
	}
	rc, err := f.SyscallConn() // not Fd, which would make a pipe blocking
	if err != nil {
		return ""
	}
	var st unix.Statfs_t
	if rc.Control(func(fd uintptr) { err = unix.Fstatfs(int(fd), &st) }) != nil || err != nil {
		return ""
	}
	return (&mount{fsType: int64(st.Type)}).name()
}

// swapTotal is /proc/meminfo's SwapTotal in kB (-1 when unknown).
func swapTotal() int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "SwapTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return n
				}
			}
		}
	}
	return -1
}
