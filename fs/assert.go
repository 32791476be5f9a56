package fs

import (
	"io"
	iofs "io/fs"
	"syscall"
)

// File has os.File's method set where it means something; these assertions
// keep it that way.
var (
	_ io.Reader        = (*File)(nil)
	_ io.Writer        = (*File)(nil)
	_ io.ReaderAt      = (*File)(nil)
	_ io.WriterAt      = (*File)(nil)
	_ io.Seeker        = (*File)(nil)
	_ io.Closer        = (*File)(nil)
	_ io.ReaderFrom    = (*File)(nil)
	_ io.WriterTo      = (*File)(nil)
	_ io.StringWriter  = (*File)(nil)
	_ syscall.Conn     = (*File)(nil)
	_ iofs.File        = (*File)(nil)
	_ iofs.ReadDirFile = (*File)(nil)
)
