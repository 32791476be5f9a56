//go:build linux

package fs_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/goaio/uring/fs"
)

func TestReadFilesMatchesOS(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := 0; i < 300; i++ { // more than one submission's worth
		p := filepath.Join(dir, fmt.Sprintf("f%03d", i))
		writeFile(t, p, bytes.Repeat([]byte{byte(i)}, i*37))
		paths = append(paths, p)
	}
	paths = append(paths, filepath.Join(dir, "missing"), dir, "/proc/self/status", os.DevNull)
	for _, opts := range [][]fs.Option{nil, {fs.WithoutRing()}} {
		datas, errs := fs.ReadFiles(context.Background(), paths, opts...)
		for i, p := range paths {
			want, wantErr := os.ReadFile(p)
			if wantErr != nil {
				require.Error(t, errs[i], p)
				require.Equal(t, wantErr.Error(), errs[i].Error(), p)
				continue
			}
			require.NoError(t, errs[i], p)
			if p == "/proc/self/status" {
				require.NotEmpty(t, datas[i])
				continue
			}
			require.Equal(t, want, datas[i], p)
		}
	}
}

func TestReadAtv(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	content := bytes.Repeat([]byte("0123456789"), 1000)
	writeFile(t, p, content)
	for _, o := range openers(t) {
		if o.name == "os" {
			continue
		}
		t.Run(o.name, func(t *testing.T) {
			f, err := o.open(t, p, os.O_RDONLY, 0)
			require.NoError(t, err)
			defer f.Close()
			ff := f.(*fs.File)
			bufs := [][]byte{make([]byte, 10), make([]byte, 100), make([]byte, 50), make([]byte, 5)}
			offs := []int64{0, 5000, 9980, -1}
			ns, errs := ff.ReadAtv(context.Background(), bufs, offs)
			for i := range bufs {
				wantN, wantErr := (&readerAt{content}).ReadAt(make([]byte, len(bufs[i])), offs[i])
				require.Equal(t, wantN, ns[i], "range %d", i)
				if wantErr == nil {
					require.NoError(t, errs[i])
					require.Equal(t, content[offs[i]:offs[i]+int64(ns[i])], bufs[i][:ns[i]])
				} else if wantErr == io.EOF {
					require.Equal(t, io.EOF, errs[i])
				} else {
					require.Error(t, errs[i])
				}
			}
		})
	}
}

type readerAt struct{ b []byte }

func (r *readerAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset")
	}
	if off >= int64(len(r.b)) {
		return 0, io.EOF
	}
	n := copy(p, r.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Copying a file into a TCP connection takes the kernel's sendfile path, as
// os.File does, and delivers every byte.
func TestWriteToSocket(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	content := bytes.Repeat([]byte("sendfile "), 200_000)
	writeFile(t, p, content)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		got <- b
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	f, err := fs.Open(p)
	require.NoError(t, err)
	defer f.Close()
	n, err := io.Copy(c, f)
	require.NoError(t, err)
	require.Equal(t, int64(len(content)), n)
	c.Close()
	require.Equal(t, content, <-got)
}
