//go:build !linux

package main

import (
	"context"
	"errors"
	"os"

	"github.com/goaio/uring/fs"
)

// directFlag is 0: O_DIRECT is Linux only, and --direct is refused.
const directFlag = 0

func alignedBuffer(n, align int) []byte { return fs.AlignedBuffer(n, align) }

func directAlign(files ...*os.File) int { return 1 }

// dataExtents is the whole file: no SEEK_DATA here.
func dataExtents(f *os.File, size int64) ([]extent, error) { return []extent{{0, size}}, nil }

func preadOnce(f *os.File, b []byte, off int64) (int, error) { return f.ReadAt(b, off) }

// ringCopy: io_uring is Linux only, so the copy is osCopy's.
func (c *copier) ringCopy(ctx context.Context, plan []span) error { return errNoRing }

// errNoKernelCopy: no copy_file_range here.
var errNoKernelCopy = errors.New("copy_file_range unavailable")

func (c *copier) kernelCopy(plan []span) error { return errNoKernelCopy }
