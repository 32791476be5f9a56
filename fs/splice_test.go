//go:build linux

package fs_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring/fs"
)

// spliceData is 3 MiB and a bit: many pipe-fulls, and not a multiple of one.
func spliceData() []byte {
	b := make([]byte, 3<<20+4097)
	r := rand.NewChaCha8([32]byte{7})
	_, _ = r.Read(b)
	return b
}

// feedPipe writes data into a fresh pipe from another goroutine and closes
// the writer; the test reads the pipe.
func feedPipe(t *testing.T, data []byte) *os.File {
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { pr.Close() })
	go func() {
		_, _ = pw.Write(data)
		pw.Close()
	}()
	return pr
}

// drainPipe returns a pipe's writer and a channel with everything its
// reader received once the writer is closed.
func drainPipe(t *testing.T) (*os.File, <-chan []byte) {
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	out := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(pr)
		pr.Close()
		out <- b
	}()
	return pw, out
}

type readFromWriterTo interface {
	file
	io.ReaderFrom
	io.WriterTo
}

// TestSpliceParity copies between files and pipes or sockets with
// ReadFrom/WriteTo (io.Copy's fast paths: splice(2) for fs)
// and requires the counts, bytes, file offsets and errors os gives.
func TestSpliceParity(t *testing.T) {
	data := spliceData()
	scenarios := []scenario{
		{"pipe into file", func(t *testing.T, tr *transcript, o opener, dir string) {
			f, err := o.open(t, filepath.Join(dir, "dst"), os.O_RDWR|os.O_CREATE, 0o644)
			require.NoError(t, err)
			defer f.Close()
			_, _ = f.WriteString("head")
			n, err := io.Copy(f, feedPipe(t, data))
			tr.call("copy", int(n), err)
			off, _ := f.Seek(0, io.SeekCurrent)
			got, _ := os.ReadFile(f.Name())
			tr.add("offset=%d same=%v", off, bytes.Equal(got, append([]byte("head"), data...)))
		}},
		{"pipe into file, limited", func(t *testing.T, tr *transcript, o opener, dir string) {
			f, err := o.open(t, filepath.Join(dir, "dst"), os.O_RDWR|os.O_CREATE, 0o644)
			require.NoError(t, err)
			defer f.Close()
			pr := feedPipe(t, data)
			n, err := io.CopyN(f, pr, 100_001)
			tr.call("copyN", int(n), err)
			rest, err := io.ReadAll(pr)
			tr.add("rest=%d err=%v", len(rest), err)
			got, _ := os.ReadFile(f.Name())
			tr.add("same=%v", bytes.Equal(got, data[:100_001]) && bytes.Equal(rest, data[100_001:]))
		}},
		{"file into pipe", func(t *testing.T, tr *transcript, o opener, dir string) {
			p := filepath.Join(dir, "src")
			writeFile(t, p, data)
			f, err := o.open(t, p, os.O_RDONLY, 0)
			require.NoError(t, err)
			defer f.Close()
			_, _ = f.Seek(1000, io.SeekStart)
			pw, out := drainPipe(t)
			n, err := io.Copy(pw, f)
			tr.call("copy", int(n), err)
			pw.Close()
			off, _ := f.Seek(0, io.SeekCurrent)
			tr.add("offset=%d same=%v", off, bytes.Equal(<-out, data[1000:]))
		}},
		{"fs pipe (FIFO) both ways", func(t *testing.T, tr *transcript, o opener, dir string) {
			fifo := filepath.Join(dir, "fifo")
			require.NoError(t, unix.Mkfifo(fifo, 0o600))
			// O_RDWR opens a FIFO without waiting for a peer.
			pipe, err := fs.OpenFile(fifo, os.O_RDWR, 0)
			require.NoError(t, err)
			defer pipe.Close()
			p := filepath.Join(dir, "src")
			small := data[:50_000] // fits the FIFO: no reader runs meanwhile
			writeFile(t, p, small)
			src, err := o.open(t, p, os.O_RDONLY, 0)
			require.NoError(t, err)
			defer src.Close()
			n, err := pipe.ReadFrom(src) // file → pipe, asked of the pipe
			tr.call("pipe.ReadFrom(file)", int(n), err)
			dst, err := o.open(t, filepath.Join(dir, "dst"), os.O_RDWR|os.O_CREATE, 0o644)
			require.NoError(t, err)
			defer dst.Close()
			n, err = io.CopyN(dst, pipe, int64(len(small)))
			tr.call("copyN(file, pipe)", int(n), err)
			got, _ := os.ReadFile(dst.Name())
			tr.add("same=%v", bytes.Equal(got, small))
		}},
		{"stream sockets into file", func(t *testing.T, tr *transcript, o opener, dir string) {
			for _, network := range []string{"tcp", "unix"} {
				addr := "127.0.0.1:0"
				if network == "unix" {
					addr = filepath.Join(dir, "sock")
				}
				ln, err := net.Listen(network, addr)
				require.NoError(t, err)
				go func() {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					_, _ = c.Write(data)
					c.Close()
				}()
				c, err := net.Dial(network, ln.Addr().String())
				require.NoError(t, err)
				f, err := o.open(t, filepath.Join(dir, network), os.O_RDWR|os.O_CREATE, 0o644)
				require.NoError(t, err)
				n, err := io.Copy(f, c)
				tr.call(network+" copy", int(n), err)
				got, _ := os.ReadFile(f.Name())
				tr.add("same=%v", bytes.Equal(got, data))
				f.Close()
				c.Close()
				ln.Close()
			}
		}},
		{"pipe read deadline passed", func(t *testing.T, tr *transcript, o opener, dir string) {
			pr, pw, err := os.Pipe()
			require.NoError(t, err)
			defer pr.Close()
			defer pw.Close()
			_, _ = pw.Write([]byte("some"))
			require.NoError(t, pr.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
			f, err := o.open(t, filepath.Join(dir, "dst"), os.O_RDWR|os.O_CREATE, 0o644)
			require.NoError(t, err)
			defer f.Close()
			n, err := f.(readFromWriterTo).ReadFrom(pr)
			tr.call("readfrom", int(n), err)
			tr.add("deadline=%v", errors.Is(err, os.ErrDeadlineExceeded))
		}},
		{"pipe closed under a blocked copy", func(t *testing.T, tr *transcript, o opener, dir string) {
			pr, pw, err := os.Pipe()
			require.NoError(t, err)
			defer pw.Close()
			f, err := o.open(t, filepath.Join(dir, "dst"), os.O_RDWR|os.O_CREATE, 0o644)
			require.NoError(t, err)
			defer f.Close()
			time.AfterFunc(50*time.Millisecond, func() { pr.Close() })
			n, err := f.(readFromWriterTo).ReadFrom(pr)
			tr.add("readfrom n=%d closed=%v", n, errors.Is(err, os.ErrClosed))
		}},
	}
	runScenarios(t, scenarios)
}

// A closed destination refuses the splice before touching the pipe.
func TestSpliceIntoClosedFile(t *testing.T) {
	f, err := fs.Create(filepath.Join(t.TempDir(), "dst"))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	pr := feedPipe(t, []byte("x"))
	_, err = f.ReadFrom(pr)
	require.ErrorIs(t, err, os.ErrClosed)
	b, err := io.ReadAll(pr)
	require.NoError(t, err)
	require.Equal(t, "x", string(b))
}
