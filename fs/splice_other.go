//go:build !linux

package fs

import "io"

// Without Linux there is no splice: ReadFrom and WriteTo take their other paths.
func (f *File) spliceFrom(io.Reader, int64) (int64, bool, error) { return 0, false, nil }

func (f *File) spliceTo(io.Writer) (int64, bool, error) { return 0, false, nil }
