//go:build linux

package fs_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/goaio/uring/fs"
)

func TestAlignedBuffer(t *testing.T) {
	for _, align := range []int{0, 512, 4096, 65536} {
		b := fs.AlignedBuffer(10_000, align)
		if align == 0 {
			align = fs.DefaultDirectAlign
		}
		require.Len(t, b, 10_000)
		require.Zero(t, uintptr(unsafe.Pointer(&b[0]))%uintptr(align))
	}
}

// O_DIRECT through the ring: aligned buffers work; a misaligned buffer gets
// the kernel's EINVAL, exactly as os.File reports it.
func TestDirectIO(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "direct")
	content := bytes.Repeat([]byte("d"), 1<<16)
	writeFile(t, p, content)
	f, err := fs.OpenFile(p, os.O_RDWR|syscall.O_DIRECT, 0)
	if errors.Is(err, syscall.EINVAL) {
		t.Skipf("%s does not support O_DIRECT: %v", dir, err)
	}
	require.NoError(t, err)
	defer f.Close()
	mem, off, err := f.DirectAlignment()
	require.NoError(t, err)
	t.Logf("dio alignment: memory %d, offset %d", mem, off)

	buf := f.AlignedBuffer(8192)
	n, err := f.ReadAt(buf, 4096)
	require.NoError(t, err)
	require.Equal(t, 8192, n)
	require.Equal(t, content[4096:4096+8192], buf)
	copy(buf, bytes.Repeat([]byte("w"), len(buf)))
	_, err = f.WriteAt(buf, 0)
	require.NoError(t, err)

	of, err := os.OpenFile(p, os.O_RDWR|syscall.O_DIRECT, 0)
	require.NoError(t, err)
	defer of.Close()
	mis := fs.AlignedBuffer(8192+1, 0)[1:]
	// ext4 and xfs refuse a misaligned buffer (EINVAL); btrfs, tmpfs and
	// FUSE serve it. Either way fs does what os does.
	nFs, errFs := f.ReadAt(mis, 0)
	misOs := fs.AlignedBuffer(8192+1, 0)[1:]
	nOs, errOs := of.ReadAt(misOs, 0)
	require.Equal(t, errString(errOs, dir), errString(errFs, dir))
	require.Equal(t, nOs, nFs)
	require.Equal(t, misOs[:nOs], mis[:nFs])
}
