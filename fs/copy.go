package fs

import (
	"errors"
	"io"

	"github.com/goaio/uring/internal/ringfd"
)

// copyBufSize is the chunk size of the buffered ReadFrom and WriteTo loops:
// large enough that each Read or Write of the loop, a system call or a ring
// op by the dispatch rule, moves a lot.
const copyBufSize = 256 << 10

func genericReadFrom(f *File, r io.Reader) (int64, error) {
	n, err := io.CopyBuffer(ringfd.WriterOnly{Writer: f}, ringfd.ReaderOnly{Reader: r}, make([]byte, copyBufSize))
	return n, wrapCopyErr(f, "write", err)
}

func genericWriteTo(f *File, w io.Writer) (int64, error) {
	n, err := io.CopyBuffer(ringfd.WriterOnly{Writer: w}, ringfd.ReaderOnly{Reader: f}, make([]byte, copyBufSize))
	return n, wrapCopyErr(f, "read", err)
}

func wrapCopyErr(f *File, op string, err error) error {
	if err == nil {
		return nil
	}
	var pe interface{ Unwrap() error }
	if errors.As(err, &pe) {
		return err
	}
	return f.pathErr(op, err)
}
