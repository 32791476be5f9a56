//go:build !linux

package fs

import (
	"errors"
	"os"
)

// DirectAlignment reports O_DIRECT alignment, known only on Linux.
func (f *File) DirectAlignment() (mem, off int, err error) {
	if f == nil {
		return 0, 0, os.ErrInvalid
	}
	return 0, 0, errors.New("fs: O_DIRECT alignment is known only on Linux")
}
