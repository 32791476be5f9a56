//go:build linux

package fs_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring/fs"
)

// noNowaitDirs returns the directories among the test's temporary one and
// /dev/shm whose file system has no RWF_NOWAIT reads (tmpfs, overlayfs,
// FUSE), or skips t.
func noNowaitDirs(t *testing.T) []string {
	var dirs, why []string
	for _, d := range []string{t.TempDir(), "/dev/shm"} {
		p, err := os.CreateTemp(d, "nowait-")
		if err != nil {
			why = append(why, fmt.Sprintf("%s: %v", d, err))
			continue
		}
		p.Close()
		t.Cleanup(func() { os.Remove(p.Name()) })
		if nowaitReads(t, p.Name()) {
			why = append(why, d+" has RWF_NOWAIT reads")
			continue
		}
		dir, err := os.MkdirTemp(d, "nowait-")
		require.NoError(t, err)
		t.Cleanup(func() { os.RemoveAll(dir) })
		dirs = append(dirs, dir)
	}
	if len(dirs) == 0 {
		t.Skipf("no file system without RWF_NOWAIT reads here: %v", why)
	}
	return dirs
}

// On a file system without RWF_NOWAIT reads io_uring hands every read to an
// io-wq worker thread (0.04x os.File at one goroutine on tmpfs), so none of
// fs's reads goes to the ring there: ReadAt, Read, ReadAtv, O_DIRECT reads,
// ReadFile, and ReadFiles' reads. The data is right on every path.
func TestNoNowaitReadsSkipRing(t *testing.T) {
	r := newRing(t)
	for _, dir := range noNowaitDirs(t) {
		t.Run(filepath.Base(filepath.Dir(dir)), func(t *testing.T) {
			content := bytes.Repeat([]byte("no RWF_NOWAIT ."), 20000) // 300,000 bytes
			p := filepath.Join(dir, "data")
			writeFile(t, p, content)
			f, err := fs.OpenFile(p, os.O_RDONLY, 0, fs.WithRing(r))
			require.NoError(t, err)
			defer f.Close()
			require.Equal(t, "syscall", f.Route().Read, "route %v", f.Route())
			before := r.Stats().Submitted

			buf := make([]byte, 4096)
			for off := 0; off+len(buf) <= len(content); off += 7919 {
				n, err := f.ReadAt(buf, int64(off))
				require.NoError(t, err)
				require.Equal(t, content[off:off+n], buf[:n])
			}
			big := make([]byte, 128<<10)
			n, err := f.Read(big)
			require.NoError(t, err)
			require.Equal(t, content[:n], big[:n])
			bufs, offs := [][]byte{make([]byte, 100), make([]byte, 5000)}, []int64{10, 200000}
			ns, errs := f.ReadAtv(context.Background(), bufs, offs)
			for i := range bufs {
				require.NoError(t, errs[i])
				require.Equal(t, content[offs[i]:offs[i]+int64(ns[i])], bufs[i])
			}
			data, err := fs.ReadFile(p, fs.WithRing(r))
			require.NoError(t, err)
			require.Equal(t, content, data)
			require.Equal(t, before, r.Stats().Submitted, "a read went to the ring")

			// ReadFiles opens, sizes and closes on the ring: three ops a file, no read.
			names := []string{p, p, p}
			before = r.Stats().Submitted
			datas, errs := fs.ReadFiles(context.Background(), names, fs.WithRing(r))
			for i := range names {
				require.NoError(t, errs[i])
				require.Equal(t, content, datas[i])
			}
			require.Equal(t, before+3*uint64(len(names)), r.Stats().Submitted, "ReadFiles read on the ring")

			df, err := fs.OpenFile(p, os.O_RDONLY|syscall.O_DIRECT, 0, fs.WithRing(r))
			if err != nil {
				t.Logf("no O_DIRECT here: %v", err)
				return
			}
			defer df.Close()
			aligned := df.AlignedBuffer(4096)
			before = r.Stats().Submitted
			n, err = df.ReadAt(aligned, 8192)
			require.NoError(t, err)
			require.Equal(t, content[8192:8192+n], aligned[:n])
			if directOnRing(t, dir) { // overlayfs: the ring beats os's threads there
				require.Greater(t, r.Stats().Submitted, before, "an O_DIRECT read on overlayfs skipped the ring")
				return
			}
			require.Equal(t, before, r.Stats().Submitted, "an O_DIRECT read went to the ring")
		})
	}
}

// A File learns its file system's answer when it opens, once per mount: the
// second File on the same mount routes its reads without asking again, and
// Route names the file system.
func TestRouteNamesFileSystem(t *testing.T) {
	r := newRing(t)
	dir := t.TempDir()
	var st unix.Statfs_t
	require.NoError(t, unix.Statfs(dir, &st))
	p := filepath.Join(dir, "f")
	writeFile(t, p, []byte("route"))
	f, err := fs.OpenFile(p, os.O_RDWR, 0, fs.WithRing(r))
	require.NoError(t, err)
	defer f.Close()
	rt := f.Route()
	want := map[int64]string{0xef53: "ext4", 0x58465342: "xfs", 0x9123683e: "btrfs", 0x01021994: "tmpfs",
		0x794c7630: "overlay", 0x65735546: "fuse"}[int64(st.Type)]
	if want != "" {
		require.Equal(t, want, rt.FileSystem)
	}
	wantRead := "nowait"
	if !nowaitReads(t, p) {
		wantRead = "syscall"
	}
	require.Equal(t, fs.Route{FileSystem: rt.FileSystem, Read: wantRead, Write: "syscall", Sync: "syscall"}, rt)
	w, err := fs.OpenFile(filepath.Join(dir, "w"), os.O_WRONLY|os.O_CREATE, 0o644, fs.WithRing(r))
	require.NoError(t, err)
	defer w.Close()
	require.Equal(t, rt, w.Route(), "a write-only File on the same mount")
	o, err := fs.OpenFile(p, os.O_RDONLY, 0, fs.WithoutRing())
	require.NoError(t, err)
	defer o.Close()
	require.Equal(t, fs.Route{FileSystem: rt.FileSystem, Read: "os", Write: "os", Sync: "os"}, o.Route())
}
