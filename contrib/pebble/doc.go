// Package uringpebble runs Pebble's file I/O through io_uring. A Pebble user
// switches with one line:
//
//	opts := &pebble.Options{}
//	opts.FS = uringpebble.FS()
//	db, err := pebble.Open(dir, opts)
//
// FS is vfs.Default with its files opened by github.com/goaio/uring/fs:
// sstables, the WAL, the MANIFEST and OPTIONS files are read, written and
// synced on a ring, with the results and semantics of Pebble's own files.
// Directories, renames, locks and disk usage stay vfs.Default's.
//
// The module lives apart from github.com/goaio/uring so that the library
// itself does not depend on Pebble.
package uringpebble
