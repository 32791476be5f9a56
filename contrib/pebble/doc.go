// Package uringpebble runs Pebble's file I/O through io_uring. A Pebble user
// switches with one line:
//
//	opts := &pebble.Options{}
//	opts.FS = uringpebble.FS()
//	db, err := pebble.Open(dir, opts)
//
// FS is vfs.Default with its files opened by github.com/goaio/uring/fs:
// sstables, the WAL, the MANIFEST and OPTIONS files, with the results and
// semantics of Pebble's own files. Their I/O follows fs.File's dispatch
// rule: a read the page cache can answer is one preadv2(RWF_NOWAIT), a read
// that would wait for the device goes to the ring, so readers of evicted
// sstables do not each hold a thread; writes and syncs are the system calls
// Pebble's own files make. Directories, renames, locks and disk usage stay
// vfs.Default's.
//
// The module lives apart from github.com/goaio/uring so that the library
// itself does not depend on Pebble.
package uringpebble
