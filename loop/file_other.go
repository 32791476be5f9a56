//go:build !linux

package loop

import "errors"

// File is a descriptor read from loop callbacks; it needs Linux.
type File struct{}

var errFileLinux = errors.New("loop: File needs Linux")

// NewFile reports that File needs Linux.
func NewFile(fd int) (*File, error) { return nil, errFileLinux }

// ReadAt reports that File needs Linux.
func (f *File) ReadAt(l *Loop, b []byte, off int64, cb func(n int, err error)) error {
	return errFileLinux
}
