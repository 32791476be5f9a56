//go:build !linux

package fs

import (
	"os"
)

// path is how one kind of call on a File runs; off Linux there is no ring.
type path uint8

const (
	viaRing path = iota
	viaSyscall
)

// dispatch is a File's dispatch state: everything on the ring.
type dispatch struct{ read, write, sync path }

func (d *dispatch) choose(int, os.FileInfo, int) {}

func (d *dispatch) inline(int, bool, []byte, int64) (int, error, bool) { return 0, nil, false }
