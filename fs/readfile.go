package fs

import (
	"io"
	"os"
	"slices"

	"github.com/goaio/uring/internal/ringfd"
)

// ReadFile reads the whole named file, like os.ReadFile: the same data, and
// the same errors (*os.PathError with os's Op and Path). A cached regular
// file costs four system calls (openat, statx, one read, close); a read the
// page cache cannot serve goes to the ring where the file system can tell
// (docs/design.md, "ReadFile from many goroutines" and "Files on every file
// system").
func ReadFile(name string, opts ...Option) ([]byte, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	r := ringfd.RingFor(o.ring, o.fallback)
	if r == nil {
		return os.ReadFile(name) // io_uring unavailable, or not wanted
	}
	return readFile(r, name)
}

// minRead is os.ReadFile's smallest read: files in /proc claim size 0 and
// do not work right when read in small pieces.
const minRead = 512

// readSize is the buffer os.ReadFile starts with for a file whose stat
// (statx here, fstat in os) gave statSize: the size and one byte to see
// the end, at least minRead.
func readSize(statSize int64) int {
	size := 0
	if int64(int(statSize)) == statSize {
		size = int(statSize)
	}
	size++
	return max(size, minRead)
}

// readRest continues os.ReadFile's loop: read appends to data until it
// returns an error (io.EOF at the end, which is not one), growing data as
// os.ReadFile grows it.
func readRest(data []byte, zeroSize bool, read func([]byte) (int, error)) ([]byte, error) {
	for {
		if remain := cap(data) - len(data); remain == 0 || zeroSize && remain < minRead {
			data = slices.Grow(data, minRead)
		}
		n, err := read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return data, err
		}
	}
}

// WriteFile writes data to the named file, creating it with perm if needed
// and truncating it otherwise, like os.WriteFile.
func WriteFile(name string, data []byte, perm os.FileMode, opts ...Option) error {
	f, err := OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm, opts...)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err1 := f.Close(); err1 != nil && err == nil {
		err = err1
	}
	return err
}
