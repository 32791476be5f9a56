//go:build linux

package fs_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/goaio/uring"
	"github.com/goaio/uring/fs"
)

// ReadAtv and ReadFiles split their work to what the Ring takes in one
// batch: on rings with a tiny SQ or few request slots every result is os's.
func TestDefect12SmallRingBatches(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := range 60 {
		p := filepath.Join(dir, fmt.Sprintf("f%02d", i))
		writeFile(t, p, bytes.Repeat([]byte{byte('a' + i%26)}, i*101))
		paths = append(paths, p)
	}
	paths = append(paths, filepath.Join(dir, "missing"), dir, "")
	big := filepath.Join(dir, "big")
	content := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	writeFile(t, big, content)
	osf, err := os.Open(big)
	require.NoError(t, err)
	defer osf.Close()

	rings := map[string][]uring.Option{
		"entries=4":                 {uring.WithEntries(4)},
		"maxinflight=3":             {uring.WithMaxInFlight(3)},
		"entries=2,maxinflight=1":   {uring.WithEntries(2), uring.WithMaxInFlight(1)},
		"entries=8,shards=2":        {uring.WithEntries(8), uring.WithShards(2)},
		"entries=16,maxinflight=5":  {uring.WithEntries(16), uring.WithMaxInFlight(5)},
		"entries=256,maxinflight=7": {uring.WithEntries(256), uring.WithMaxInFlight(7)},
	}
	for name, opts := range rings {
		t.Run(name, func(t *testing.T) {
			r := newRing(t, opts...)
			datas, errs := fs.ReadFiles(context.Background(), paths, fs.WithRing(r))
			for i, p := range paths {
				want, wantErr := os.ReadFile(p)
				if wantErr != nil {
					require.Error(t, errs[i], p)
					require.Equal(t, wantErr.Error(), errs[i].Error(), p)
					continue
				}
				require.NoError(t, errs[i], p)
				require.Equal(t, want, datas[i], p)
			}

			f, err := fs.Open(big, fs.WithRing(r))
			require.NoError(t, err)
			defer f.Close()
			require.True(t, f.UsesRing())
			var bufs [][]byte
			var offs []int64
			for i := range 300 {
				bufs = append(bufs, make([]byte, 1+i*37%5000))
				offs = append(offs, int64(i*997%(len(content)+100)))
			}
			offs[7] = -1
			ns, errs := f.ReadAtv(context.Background(), bufs, offs)
			for i := range bufs {
				want := make([]byte, len(bufs[i]))
				wantN, wantErr := osf.ReadAt(want, offs[i])
				require.Equal(t, wantN, ns[i], "range %d", i)
				require.Equal(t, want[:wantN], bufs[i][:ns[i]], "range %d", i)
				switch {
				case wantErr == nil:
					require.NoError(t, errs[i], "range %d", i)
				case wantErr == io.EOF:
					require.Equal(t, io.EOF, errs[i], "range %d", i)
				default:
					require.Error(t, errs[i], "range %d", i)
					require.Equal(t, wantErr.Error(), errs[i].Error(), "range %d", i)
				}
			}
		})
	}
}
