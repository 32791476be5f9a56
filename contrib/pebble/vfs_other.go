//go:build !linux

package uringpebble

import (
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/goaio/uring/fs"
)

// FS returns vfs.Default: io_uring is Linux only, and fs.File would be
// os.File anyway.
func FS(...fs.Option) vfs.FS { return vfs.Default }
