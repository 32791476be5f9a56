//go:build linux

package fs_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/goaio/uring/fs"
)

// FuzzReadWriteAt runs the same WriteAt/ReadAt on an os.File and an fs.File
// over two copies of a file and requires the same results, errors and
// contents.
func FuzzReadWriteAt(f *testing.F) {
	f.Add(int64(0), uint16(10), int64(5), uint16(20), []byte("hello"))
	f.Add(int64(-1), uint16(0), int64(-3), uint16(1), []byte{})
	f.Add(int64(4096), uint16(4096), int64(1<<33), uint16(7), []byte("far"))
	f.Fuzz(func(t *testing.T, woff int64, wlen uint16, roff int64, rlen uint16, seed []byte) {
		if woff > 1<<40 || roff > 1<<40 {
			return // sparse files that large are slow to clean up
		}
		dir := t.TempDir()
		initial := bytes.Repeat([]byte("0123456789"), 100)
		pa, pb := filepath.Join(dir, "os"), filepath.Join(dir, "fs")
		for _, p := range []string{pa, pb} {
			if err := os.WriteFile(p, initial, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		of, err := os.OpenFile(pa, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer of.Close()
		ff, err := fs.OpenFile(pb, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer ff.Close()

		data := bytes.Repeat(append(seed, 'x'), int(wlen)/(len(seed)+1)+1)[:wlen]
		n1, err1 := of.WriteAt(data, woff)
		n2, err2 := ff.WriteAt(data, woff)
		if n1 != n2 || errString(err1, dir) != errString(err2, dir) {
			t.Fatalf("WriteAt(%d bytes, %d): os %d %v, fs %d %v", wlen, woff, n1, err1, n2, err2)
		}
		b1, b2 := make([]byte, rlen), make([]byte, rlen)
		n1, err1 = of.ReadAt(b1, roff)
		n2, err2 = ff.ReadAt(b2, roff)
		if n1 != n2 || errString(err1, dir) != errString(err2, dir) || !bytes.Equal(b1[:n1], b2[:n2]) {
			t.Fatalf("ReadAt(%d bytes, %d): os %d %v, fs %d %v", rlen, roff, n1, err1, n2, err2)
		}
	})
}

// errString compares errors without the file names, which differ.
func errString(err error, dir string) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	s = string(bytes.ReplaceAll([]byte(s), []byte(filepath.Join(dir, "os")), []byte("F")))
	return string(bytes.ReplaceAll([]byte(s), []byte(filepath.Join(dir, "fs")), []byte("F")))
}
