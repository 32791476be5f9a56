package fs

import (
	"errors"
	iofs "io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// DirFS returns an io/fs.FS for the tree rooted at dir, like os.DirFS, whose
// files are fs.Files: http.FileServer(http.FS(fs.DirFS(dir))) reads them by
// the dispatch rule (a cached read is a system call, a read that would block
// goes to the ring where the file system can tell; File.Route). It also
// implements io/fs.ReadFileFS (by ReadFile), ReadDirFS and StatFS (by
// os.ReadDir and os.Stat).
func DirFS(dir string, opts ...Option) iofs.FS { return dirFS{dir: dir, opts: opts} }

type dirFS struct {
	dir  string
	opts []Option
}

var (
	_ iofs.ReadFileFS = dirFS{}
	_ iofs.ReadDirFS  = dirFS{}
	_ iofs.StatFS     = dirFS{}
)

// join validates name as io/fs does and returns the OS path, or the error
// os.DirFS gives. Like os.DirFS it appends name to the root without
// cleaning: "." stays "dir/.", whose Stat is named ".", not after dir.
func (d dirFS) join(op, name string) (string, error) {
	if d.dir == "" {
		return "", &iofs.PathError{Op: op, Path: name, Err: errors.New("os: DirFS with empty root")}
	}
	if !iofs.ValidPath(name) || strings.IndexByte(name, 0) >= 0 || runtime.GOOS == "windows" && containsBackslash(name) {
		return "", &iofs.PathError{Op: op, Path: name, Err: iofs.ErrInvalid}
	}
	name = filepath.FromSlash(name)
	if os.IsPathSeparator(d.dir[len(d.dir)-1]) {
		return d.dir + name, nil
	}
	return d.dir + string(os.PathSeparator) + name, nil
}

func containsBackslash(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			return true
		}
	}
	return false
}

// renamePath reports errors with the name inside the FS, as os.DirFS does.
func renamePath(err error, name string) error {
	var pe *iofs.PathError
	if errors.As(err, &pe) {
		pe.Path = name
	}
	return err
}

func (d dirFS) Open(name string) (iofs.File, error) {
	full, err := d.join("open", name)
	if err != nil {
		return nil, err
	}
	f, err := Open(full, d.opts...)
	if err != nil {
		return nil, renamePath(err, name)
	}
	return f, nil
}

func (d dirFS) ReadFile(name string) ([]byte, error) {
	full, err := d.join("readfile", name)
	if err != nil {
		return nil, err
	}
	b, err := ReadFile(full, d.opts...)
	return b, renamePath(err, name)
}

func (d dirFS) ReadDir(name string) ([]iofs.DirEntry, error) {
	full, err := d.join("readdir", name)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(full)
	return entries, renamePath(err, name)
}

func (d dirFS) Stat(name string) (iofs.FileInfo, error) {
	full, err := d.join("stat", name)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(full)
	return fi, renamePath(err, name)
}
