//go:build linux

// Package pagecache keeps a file out of the page cache, for benchmarks of
// reads that go to the device: the root package's and `uring bench`'s cold
// cases.
package pagecache

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SkipError says why a file's pages cannot be kept out of the cache here
// (tmpfs, or a file system that ignores fadvise): a cold benchmark skips.
type SkipError struct{ Reason string }

func (e *SkipError) Error() string { return e.Reason }

// DropEvery is how often KeepCold drops the file's pages again: the reads
// of one interval bring back only a small part of a large file.
const DropEvery = 100 * time.Millisecond

// KeepCold drops the pages of the file at path from the page cache, checks
// that they are gone, and drops them again every DropEvery until stop
// is called. The file must have no dirty pages (fadvise skips them). It
// returns a *SkipError where the cache cannot be dropped: tmpfs and ramfs keep
// their files in it.
func KeepCold(path string) (stop func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return nil, &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	if st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC {
		return nil, &SkipError{filepath.Dir(path) + " is tmpfs: its files live in the page cache and cannot be dropped from it: use --dir on a disk"}
	}
	if err := Drop(f); err != nil {
		return nil, err
	}
	resident, err := Resident(f)
	if err != nil {
		return nil, err
	}
	if resident > 0.5 {
		return nil, &SkipError{fmt.Sprintf("fadvise(DONTNEED) left %.0f%% of the data file in the page cache of %s: use --dir on a disk", resident*100, filepath.Dir(path))}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(DropEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = Drop(f)
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		f.Close()
	}, nil
}

// Drop asks the kernel to drop f's clean pages from the page cache.
func Drop(f *os.File) error {
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return &os.PathError{Op: "fadvise", Path: f.Name(), Err: err}
	}
	return nil
}

// Resident is the part of f's pages that is in the page cache
// (mincore(2) on a mapping of the file, which does not fault pages in).
func Resident(f *os.File) (float64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if fi.Size() == 0 {
		return 0, nil
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return 0, &os.PathError{Op: "mmap", Path: f.Name(), Err: err}
	}
	defer unix.Munmap(mem)
	page := int64(os.Getpagesize())
	vec := make([]byte, (fi.Size()+page-1)/page)
	// x/sys/unix has no Mincore on Linux.
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&mem[0])), uintptr(len(mem)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		return 0, &os.PathError{Op: "mincore", Path: f.Name(), Err: errno}
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return float64(n) / float64(len(vec)), nil
}
