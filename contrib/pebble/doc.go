// Package uringpebble gives Pebble files opened by github.com/goaio/uring/fs,
// whose reads use io_uring where it pays. A Pebble user switches with one
// line:
//
//	opts := &pebble.Options{}
//	opts.FS = uringpebble.FS()
//	db, err := pebble.Open(dir, opts)
//
// FS is vfs.Default with its files opened by github.com/goaio/uring/fs:
// sstables, the WAL, the MANIFEST and OPTIONS files, with the results and
// semantics of Pebble's own files. Their I/O follows fs.File's dispatch
// rule (fs.File.Route reports it): on ext4, xfs and btrfs a read the page
// cache can answer is a system call and a read that would wait for the device
// goes to the ring, so readers of evicted sstables do not each hold a thread;
// on tmpfs, overlayfs and FUSE every read is the pread64 Pebble's own files
// make. Writes and syncs are the system calls Pebble's own files make.
// Directories, renames, locks and disk usage stay vfs.Default's.
//
// The module lives apart from github.com/goaio/uring so that the library
// itself does not depend on Pebble.
package uringpebble
