//go:build linux

package fs_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/goaio/uring/fs"
)

// TestConcurrentReadWriteSeekClose: 64 goroutines on shared files doing
// ReadAt/WriteAt on their own blocks (data verified), Read and Seek on the
// shared offset, and finally Close racing with all of them: every call
// returns data or os.ErrClosed, never garbage.
func TestConcurrentReadWriteSeekClose(t *testing.T) {
	for _, o := range openers(t) {
		if o.name == "os" {
			continue
		}
		t.Run(o.name, func(t *testing.T) {
			const workers, block, rounds = 64, 512, 200
			p := filepath.Join(t.TempDir(), "shared")
			f, err := o.open(t, p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
			require.NoError(t, err)
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(w), 7))
					own := int64(w * block)
					buf, got := make([]byte, block), make([]byte, block)
					for i := 0; i < rounds; i++ {
						binary.LittleEndian.PutUint64(buf, uint64(w)<<32|uint64(i))
						for j := 8; j < block; j++ {
							buf[j] = byte(w + i + j)
						}
						if _, err := f.WriteAt(buf, own); err != nil {
							t.Errorf("worker %d: writeat: %v", w, err)
							return
						}
						if _, err := f.ReadAt(got, own); err != nil {
							t.Errorf("worker %d: readat: %v", w, err)
							return
						}
						if !bytes.Equal(buf, got) {
							t.Errorf("worker %d round %d: read back other data", w, i)
							return
						}
						if rng.IntN(8) == 0 {
							if _, err := f.Seek(int64(rng.IntN(workers*block)), io.SeekStart); err != nil {
								t.Errorf("seek: %v", err)
								return
							}
							if _, err := f.Read(got[:rng.IntN(block)+1]); err != nil && err != io.EOF {
								t.Errorf("read: %v", err)
								return
							}
						}
					}
				}(w)
			}
			wg.Wait()

			// Now Close while everyone reads.
			var closers sync.WaitGroup
			start := make(chan struct{})
			for w := 0; w < workers; w++ {
				closers.Add(1)
				go func(w int) {
					defer closers.Done()
					<-start
					buf := make([]byte, block)
					for {
						_, err := f.ReadAt(buf, int64(w*block))
						if errors.Is(err, os.ErrClosed) {
							return
						}
						if err != nil {
							t.Errorf("worker %d: %v", w, err)
							return
						}
					}
				}(w)
			}
			close(start)
			require.NoError(t, f.Close())
			closers.Wait()
		})
	}
}

// Pipes, terminals and sockets stay on os.File, whose deadlines live in the
// netpoller.
func TestUsesRingOnlyForRegularFiles(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	fd, err := syscall.Dup(int(r.Fd()))
	require.NoError(t, err)
	pf := fs.NewFile(uintptr(fd), "pipe") // owns the duplicate
	require.False(t, pf.UsesRing(), "pipes keep os.File's netpoller and deadlines")
	require.NoError(t, pf.Close())
	require.Nil(t, fs.NewFile(^uintptr(0), "bad"))
}
