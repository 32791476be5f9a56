package fs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/goaio/uring/fs"
)

// Open a file as with os.Open. Its reads follow the dispatch rule: a read
// the page cache serves, like these, is a system call, and on ext4, xfs and
// btrfs one that would wait for the device goes to io_uring (File.Route
// says which). Where io_uring is unavailable they are os.File's.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "fs-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "greeting.txt")
	if err := fs.WriteFile(path, []byte("hello, io_uring"), 0o644); err != nil {
		log.Fatal(err)
	}

	f, err := fs.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 8)
	n, err := f.ReadAt(buf, 7) // io.ReaderAt: an offset, no shared position
	fmt.Printf("%q %v\n", buf[:n], err)
	_, err = f.ReadAt(buf, 100)
	fmt.Println(err == io.EOF)
	// Output:
	// "io_uring" <nil>
	// true
}

// Serve a directory over HTTP from fs.Files, whose reads follow the
// dispatch rule.
func ExampleDirFS() {
	dir, _ := os.MkdirTemp("", "fs-example")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "index.txt"), []byte("served by fs.DirFS"), 0o644)

	srv := httptest.NewServer(http.FileServer(http.FS(fs.DirFS(dir))))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/index.txt")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: served by fs.DirFS
}

// Read many small files with their opens, statx calls and closes in a few
// submissions for all of them, instead of several system calls per file; the
// reads are one more submission, or a system call each on tmpfs, overlayfs
// and FUSE. Each result is what os.ReadFile would return for that path.
func ExampleReadFiles() {
	dir, _ := os.MkdirTemp("", "fs-example")
	defer os.RemoveAll(dir)
	var paths []string
	for _, name := range []string{"a.txt", "b.txt", "missing.txt"} {
		path := filepath.Join(dir, name)
		if name != "missing.txt" {
			os.WriteFile(path, []byte("contents of "+name), 0o644)
		}
		paths = append(paths, path)
	}

	datas, errs := fs.ReadFiles(context.Background(), paths)
	for i, path := range paths {
		if errs[i] != nil {
			fmt.Printf("%s: not found: %v\n", filepath.Base(path), errors.Is(errs[i], os.ErrNotExist))
			continue
		}
		fmt.Printf("%s: %s\n", filepath.Base(path), datas[i])
	}
	// Output:
	// a.txt: contents of a.txt
	// b.txt: contents of b.txt
	// missing.txt: not found: true
}
