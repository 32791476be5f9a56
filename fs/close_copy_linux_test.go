//go:build linux

package fs_test

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/goaio/uring/fs"
)

// A copy between a file and a stream that waits on the stream (a peer that
// sends nothing, a pipe or socket nobody drains) does not hold the file's
// Close: Close returns at once, as os.File's does, and once the stream moves
// the copy ends as os's does (fails at its next step with "file already
// closed", or for sendfile finishes what it started). Before, the copy
// held the ring's reference and Close waited for the peer, forever if it
// never moved.
func TestCloseDuringStreamCopy(t *testing.T) {
	requireUring(t)
	type stream struct {
		end  any    // the copy's side of the stream
		move func() // makes the stream move: the peer sends, or drains
	}
	socketPair := func(t *testing.T) (net.Conn, net.Conn) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		s, err := ln.Accept()
		require.NoError(t, err)
		t.Cleanup(func() { c.Close(); s.Close() })
		return c, s
	}
	drainer := func(r io.Reader) func() { return func() { go io.Copy(io.Discard, r) } }
	cases := []struct {
		name     string
		readFrom bool // file.ReadFrom(stream), else file.WriteTo(stream)
		open     func(t *testing.T) stream
	}{
		{"ReadFrom a silent socket", true, func(t *testing.T) stream {
			c, s := socketPair(t)
			return stream{s, func() { c.Write([]byte("late")) }}
		}},
		{"ReadFrom an empty pipe", true, func(t *testing.T) stream {
			pr, pw, err := os.Pipe()
			require.NoError(t, err)
			t.Cleanup(func() { pr.Close(); pw.Close() })
			return stream{pr, func() { pw.Write([]byte("late")) }}
		}},
		{"WriteTo a pipe nobody reads", false, func(t *testing.T) stream {
			pr, pw, err := os.Pipe()
			require.NoError(t, err)
			t.Cleanup(func() { pr.Close(); pw.Close() })
			return stream{pw, drainer(pr)}
		}},
		{"WriteTo a socket nobody reads", false, func(t *testing.T) stream {
			c, s := socketPair(t)
			return stream{c, drainer(s)}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := map[string]string{}
			osCloseWaits := false
			for _, side := range []string{"os", "fs"} {
				name := filepath.Join(t.TempDir(), "f")
				if !tc.readFrom { // more than a pipe or a socket's buffers hold
					require.NoError(t, os.WriteFile(name, make([]byte, 64<<20), 0o644))
				}
				var f interface {
					io.ReaderFrom
					io.WriterTo
					io.Closer
				}
				var err error
				if side == "os" {
					f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
				} else {
					var ff *fs.File
					ff, err = fs.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
					if err == nil {
						require.True(t, ff.UsesRing(), "the file is not on the ring")
					}
					f = ff
				}
				require.NoError(t, err)
				st := tc.open(t)
				copied := make(chan error, 1)
				go func() {
					var err error
					if tc.readFrom {
						_, err = f.ReadFrom(st.end.(io.Reader))
					} else {
						_, err = f.WriteTo(st.end.(io.Writer))
					}
					copied <- err
				}()
				time.Sleep(50 * time.Millisecond) // the copy waits on the stream
				closed := make(chan error, 1)
				go func() { closed <- f.Close() }()
				// On FUSE os's own Close waits for its sendfile until the
				// socket drains: fs may then wait as os does, never longer.
				wait := 10 * time.Second
				if side == "os" {
					wait = 2 * time.Second
				}
				closeWaited := false
				select {
				case err := <-closed:
					require.NoError(t, err, "%s: Close", side)
				case <-time.After(wait):
					if side == "fs" && !osCloseWaits {
						t.Fatalf("fs: Close still waits for the copy after %v; os's returned at once", wait)
					}
					t.Logf("%s: Close waits for the copy on this file system", side)
					osCloseWaits, closeWaited = true, true
				}
				st.move()
				if closeWaited {
					select {
					case err := <-closed:
						require.NoError(t, err, "%s: Close", side)
					case <-time.After(10 * time.Second):
						t.Fatalf("%s: Close did not return after the stream moved", side)
					}
				}
				select {
				case err := <-copied:
					errs[side] = "no error" // os's sendfile finishes what it started
					if err != nil {
						errs[side] = strings.ReplaceAll(err.Error(), name, "NAME")
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("%s: the copy did not end after Close and the stream moved", side)
				}
			}
			require.Equal(t, errs["os"], errs["fs"], "the copy's error after Close")
		})
	}
}
