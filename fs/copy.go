package fs

import (
	"errors"
	"io"
)

// copyBufSize is the chunk size of the buffered ReadFrom and WriteTo loops:
// large enough that one ring round trip moves a lot.
const copyBufSize = 256 << 10

// onlyWriter and onlyReader hide a type's ReadFrom/WriteTo so io.CopyBuffer
// cannot recurse into ours.
type onlyWriter struct{ io.Writer }
type onlyReader struct{ io.Reader }

func genericReadFrom(f *File, r io.Reader) (int64, error) {
	n, err := io.CopyBuffer(onlyWriter{f}, onlyReader{r}, make([]byte, copyBufSize))
	return n, wrapCopyErr(f, "write", err)
}

func genericWriteTo(f *File, w io.Writer) (int64, error) {
	n, err := io.CopyBuffer(onlyWriter{w}, onlyReader{f}, make([]byte, copyBufSize))
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
