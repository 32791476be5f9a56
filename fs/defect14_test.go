//go:build linux

package fs_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/goaio/uring/fs"
)

// Close does not cancel a regular file's reads and writes in flight, as
// os.File's does not: they finish with their real result, calls after Close
// get os.ErrClosed in a *PathError, and ECANCELED never escapes. Whatever a
// write reported as written is in the file.
func TestDefect14CloseDoesNotCancelFileIO(t *testing.T) {
	requireUring(t)
	dir := t.TempDir()
	const workers, chunk, rounds = 16, 256 << 10, 30
	for round := range rounds {
		// f takes WriteAt and ReadAt, g Write and Read at its offset.
		p, q := filepath.Join(dir, fmt.Sprintf("f%d", round)), filepath.Join(dir, fmt.Sprintf("g%d", round))
		f, err := fs.Create(p)
		require.NoError(t, err)
		require.True(t, f.UsesRing())
		g, err := fs.Create(q)
		require.NoError(t, err)

		type written struct {
			off  int64
			data []byte
		}
		var (
			mu       sync.Mutex
			wrote    []written
			ops      atomic.Int64
			appended atomic.Int64
			wg       sync.WaitGroup
		)
		check := func(what string, err error) bool {
			if err == nil || err == io.EOF {
				return true
			}
			if errors.Is(err, syscall.ECANCELED) {
				t.Errorf("round %d: %s: ECANCELED escaped: %v", round, what, err)
			}
			var pe *os.PathError
			if !errors.Is(err, os.ErrClosed) || !errors.As(err, &pe) {
				t.Errorf("round %d: %s: want a *PathError with os.ErrClosed, got %#v (%v)", round, what, err, err)
			}
			return false
		}
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, chunk)
				for i := 0; ; i++ {
					off := int64((i*workers + w) * chunk)
					data := bytes.Repeat([]byte{byte(w), byte(i), byte(round)}, chunk/3)
					var n int
					var err error
					switch w % 4 {
					case 0, 1:
						n, err = f.WriteAt(data, off)
						if n > 0 {
							mu.Lock()
							wrote = append(wrote, written{off, data[:n]})
							mu.Unlock()
						}
					case 2:
						n, err = f.ReadAt(buf, int64(i*chunk))
					case 3:
						if i%2 == 0 {
							n, err = g.Write(data)
							appended.Add(int64(n))
						} else {
							n, err = g.Read(buf) // at the end: io.EOF
						}
					}
					ops.Add(1)
					if !check(fmt.Sprintf("worker %d op %d (n=%d)", w, i, n), err) {
						return
					}
				}
			}()
		}
		for ops.Load() < workers { // close while everyone is busy
			runtime.Gosched()
		}
		require.NoError(t, f.Close())
		require.NoError(t, g.Close())
		wg.Wait()
		if t.Failed() {
			return
		}
		got, err := os.ReadFile(p)
		require.NoError(t, err)
		for _, w := range wrote {
			require.GreaterOrEqual(t, int64(len(got)), w.off+int64(len(w.data)), "round %d: a reported write is missing", round)
			require.True(t, bytes.Equal(w.data, got[w.off:w.off+int64(len(w.data))]), "round %d: data at %d is not what WriteAt reported written", round, w.off)
		}
		st, err := os.Stat(q)
		require.NoError(t, err)
		require.Equal(t, appended.Load(), st.Size(), "round %d: what Write reported written is not all in the file", round)
		require.NoError(t, os.Remove(p))
		require.NoError(t, os.Remove(q))
	}
}
