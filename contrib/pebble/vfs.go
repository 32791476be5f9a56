//go:build linux

package uringpebble

import (
	"os"
	"syscall"
	"unsafe"

	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/errors/oserror"
	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring/fs"
)

// FS returns a vfs.FS whose files are *fs.File: Create, Open, OpenReadWrite
// and ReuseForWrite open them with opts (fs.WithRing to pick a ring;
// uring.Default otherwise), everything else is vfs.Default's. Where io_uring
// is unavailable the files fall back to os, as fs.File does.
//
//	opts.FS = uringpebble.FS()
func FS(opts ...fs.Option) vfs.FS { return &uringFS{FS: vfs.Default, opts: opts} }

// uringFS is vfs.Default with its file-opening methods replaced. Each opens
// exactly as Pebble's default file system does (its flags, its retry on an
// existing file, its OpenOptions applied afterwards).
type uringFS struct {
	vfs.FS // directories, links, renames, locks, listings, disk usage
	opts   []fs.Option
}

func (u *uringFS) open(name string, flag int) (*file, error) {
	f, err := fs.OpenFile(name, flag, 0o666, u.opts...)
	if err != nil {
		return nil, err
	}
	return newFile(f), nil
}

// Create creates name for reading and writing; an existing file is removed
// first, so the new file is a new inode (hard links to the old one keep it).
func (u *uringFS) Create(name string, _ vfs.DiskWriteCategory) (vfs.File, error) {
	const flags = os.O_RDWR | os.O_CREATE | os.O_EXCL | syscall.O_CLOEXEC
	f, err := u.open(name, flags)
	// Loop, as Pebble does, in case someone else creates it again meanwhile.
	for oserror.IsExist(err) {
		if rerr := os.Remove(name); rerr != nil && !oserror.IsNotExist(rerr) {
			return nil, errors.WithStack(rerr)
		}
		f, err = u.open(name, flags)
	}
	if err != nil {
		return nil, errors.WithStack(err)
	}
	return f, nil
}

// Open opens name for reading and applies opts (vfs.RandomReadsOption and
// vfs.SequentialReadsOption fadvise the real descriptor, as with Pebble's
// files).
func (u *uringFS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := u.open(name, os.O_RDONLY|syscall.O_CLOEXEC)
	if err != nil {
		return nil, errors.WithStack(err)
	}
	for _, opt := range opts {
		opt.Apply(f)
	}
	return f, nil
}

// OpenReadWrite opens name for reading and writing, creating it if needed,
// and applies opts.
func (u *uringFS) OpenReadWrite(name string, _ vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := u.open(name, os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC)
	if err != nil {
		return nil, errors.WithStack(err)
	}
	for _, opt := range opts {
		opt.Apply(f)
	}
	return f, nil
}

// ReuseForWrite renames oldname to newname and opens it for writing without
// truncating it, as Pebble does to recycle WAL files.
func (u *uringFS) ReuseForWrite(oldname, newname string, _ vfs.DiskWriteCategory) (vfs.File, error) {
	if err := u.Rename(oldname, newname); err != nil {
		return nil, errors.WithStack(err)
	}
	f, err := u.open(newname, os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC)
	if err != nil {
		return nil, errors.WithStack(err)
	}
	return f, nil
}

// Unwrap reports that uringFS wraps no other FS: vfs.Root must stop here,
// not at vfs.Default, or a caller would bypass the ring.
func (u *uringFS) Unwrap() vfs.FS { return nil }

// file is a vfs.File on an *fs.File, with the semantics of Pebble's Linux
// file (vfs/default_linux.go). Read, ReadAt, Write, WriteAt, Sync, SyncData,
// Close and Fd are fs.File's own.
type file struct {
	*fs.File
	// useSyncRange: SyncTo may use sync_file_range, which only ext2/3/4 are
	// known to honour (ZFS treats it as a no-op): Pebble's allowlist.
	useSyncRange bool
}

var _ vfs.File = (*file)(nil)

func newFile(f *fs.File) *file {
	return &file{File: f, useSyncRange: syncRangeSupported(int(f.Fd()))}
}

// syncRangeSupported is Pebble's isSyncRangeSupported: an ext file system
// whose kernel does not answer sync_file_range with ENOSYS (WSL1).
func syncRangeSupported(fd int) bool {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return false
	}
	const extMagic = 0xef53
	return st.Type == extMagic && unix.SyncFileRange(fd, 0, 0, 0) != unix.ENOSYS
}

// Preallocate reserves length bytes of storage at offset without changing
// the file's size: fallocate(FALLOC_FL_KEEP_SIZE).
func (f *file) Preallocate(offset, length int64) error {
	return f.Allocate(unix.FALLOC_FL_KEEP_SIZE, offset, length)
}

// Prefetch starts reading length bytes at offset into the page cache:
// posix_fadvise(POSIX_FADV_WILLNEED), which is what Pebble's readahead(2)
// does in the kernel. Unlike Pebble's, it returns nil on success (Pebble's
// returns the errno 0 as an error; every caller ignores the result).
func (f *file) Prefetch(offset, length int64) error {
	return f.Advise(offset, length, unix.FADV_WILLNEED)
}

// SyncTo asks for the first length bytes to be written back. With
// sync_file_range it waits for write-back already under way and queues the
// rest (SYNC_FILE_RANGE_WAIT_BEFORE|SYNC_FILE_RANGE_WRITE): no durability,
// fullSync false. Without, it fdatasyncs the whole file: fullSync true.
func (f *file) SyncTo(length int64) (fullSync bool, err error) {
	if !f.useSyncRange {
		if err := f.SyncData(); err != nil {
			return false, err
		}
		return true, nil
	}
	return false, f.SyncRange(0, length, unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE)
}

// Stat returns the file's vfs.FileInfo.
func (f *file) Stat() (vfs.FileInfo, error) {
	fi, err := f.File.Stat()
	if err != nil {
		return nil, err
	}
	return fileInfo{fi}, nil
}

type fileInfo struct{ os.FileInfo }

// deviceID has vfs.DeviceID's layout. Pebble makes a DeviceID only from its
// own stat, with unexported fields; the array lengths below fail to compile
// if the sizes ever differ, and a test compares the two on a real file.
type deviceID struct{ major, minor uint32 }

var (
	_ [unsafe.Sizeof(vfs.DeviceID{}) - unsafe.Sizeof(deviceID{})]struct{}
	_ [unsafe.Sizeof(deviceID{}) - unsafe.Sizeof(vfs.DeviceID{})]struct{}
)

// DeviceID returns the ID of the device on which the file resides.
func (fi fileInfo) DeviceID() vfs.DeviceID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return vfs.DeviceID{}
	}
	id := deviceID{major: unix.Major(st.Dev), minor: unix.Minor(st.Dev)}
	return *(*vfs.DeviceID)(unsafe.Pointer(&id))
}
