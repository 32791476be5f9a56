//go:build !linux

package fs

import "os"

// path is how one kind of call on a File runs; off Linux there is no ring.
type path uint8

const (
	viaRing path = iota
	viaNowait
	viaSyscall
	viaRawRead
)

// dispatch is a File's dispatch state: everything on the ring.
type dispatch struct{ read, write, sync path }

// mount is a file system's dispatch state; off Linux there is none.
type mount struct{}

func (d *dispatch) choose(int, bool, *mount, int) {}

func fileOnRing(int) (regular bool, m *mount, ok bool) { return false, nil, false }

func (d *dispatch) inline(int, bool, []byte, int64) (int, error, bool) { return 0, nil, false }

func (d *dispatch) learnedNoNowait() bool { return false }

func (d *dispatch) fileSystem() string { return "" }

func fileSystemOf(*os.File) string { return "" }

// openFlags: off Linux a File is os.File's own, which reads them itself.
func openFlags(*os.File) int { return flagsUnknown }
