//go:build linux

package uring_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

// Read a file with one io_uring round trip, falling back to the os package
// where io_uring is unavailable (for example under Docker's default seccomp
// profile).
func ExampleRing_Do() {
	path := filepath.Join(os.TempDir(), "uring-example.txt")
	os.WriteFile(path, []byte("hello, io_uring\n"), 0o644)
	defer os.Remove(path)

	f, _ := os.Open(path)
	defer f.Close()
	buf := make([]byte, 64)

	ring, err := uring.New()
	if errors.Is(err, uring.ErrUnsupported) {
		n, _ := f.ReadAt(buf, 0) // same result through the os package
		fmt.Print(string(buf[:n]))
		return
	}
	defer ring.Close()
	res, err := ring.Do(context.Background(), ops.Read(int(f.Fd()), buf, 0))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(buf[:res.N()]))
	// Output: hello, io_uring
}

// Several operations in one submission; Link makes each wait for the one
// before it, so the read sees the write.
func ExampleRing_DoBatch() {
	ring, err := uring.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ring.Close()
	f, _ := os.CreateTemp("", "batch")
	defer os.Remove(f.Name())
	fd := int(f.Fd())
	buf := make([]byte, 5)
	results := make([]uring.Result, 3)
	err = ring.DoBatch(context.Background(), []ops.Op{
		ops.Write(fd, []byte("batch"), 0).Link(),
		ops.Fdatasync(fd).Link(),
		ops.Read(fd, buf, 0),
	}, results)
	fmt.Println(string(buf), err, results[2].N())
}

// A deadline on the context becomes an io_uring linked timeout: the read is
// cancelled by the kernel, and Do returns once the kernel has let go of buf.
func ExampleRing_Do_timeout() {
	ring, err := uring.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ring.Close()
	var p [2]int
	unix.Pipe(p[:]) // nothing is ever written: the read would block forever
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	buf := make([]byte, 16)
	_, err = ring.Do(ctx, ops.Read(p[0], buf, -1))
	fmt.Println(errors.Is(err, context.DeadlineExceeded))
}

// Cancelling the context cancels the operation in the kernel.
func ExampleRing_Do_cancel() {
	ring, err := uring.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ring.Close()
	var p [2]int
	unix.Pipe(p[:])
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	_, err = ring.Do(ctx, ops.Read(p[0], make([]byte, 16), -1))
	fmt.Println(err) // context.Canceled
}

// A future can be selected on together with other channels.
func ExampleRing_Submit() {
	ring, err := uring.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ring.Close()
	f, _ := ring.Submit(context.Background(), ops.Timeout(5*time.Millisecond, 0, 0))
	select {
	case <-f.Done():
		_, err := f.Wait()
		fmt.Println("timer fired:", err) // syscall.ETIME
	case <-time.After(time.Second):
	}
}

// A multishot operation is read as an iterator; breaking out cancels it.
func ExampleRing_Stream() {
	ring, err := uring.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ring.Close()
	ticks := 0
	for range ring.Stream(context.Background(), ops.TimeoutMulti(time.Millisecond, 0)) {
		if ticks++; ticks == 3 {
			break
		}
	}
	fmt.Println(ticks)
}

// Available says whether io_uring can be used here, and why not.
func ExampleAvailable() {
	if err := uring.Available(); err != nil {
		fmt.Println("falling back:", err)
		return
	}
	fmt.Println("io_uring is available")
}
