//go:build linux

package ops_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

// exampleFile writes content to a new file and returns its path; the caller
// removes the directory.
func exampleFile(content string) (dir, path string) {
	dir, err := os.MkdirTemp("", "ops-example")
	if err != nil {
		log.Fatal(err)
	}
	path = filepath.Join(dir, "greeting")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		log.Fatal(err)
	}
	return dir, path
}

func ExampleRead() {
	dir, path := exampleFile("hello, io_uring")
	defer os.RemoveAll(dir)
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()

	ring, err := uring.New()
	if err != nil {
		log.Fatal(err)
	}
	defer ring.Close()

	buf := make([]byte, 32)
	res, err := ring.Do(context.Background(), ops.Read(int(f.Fd()), buf, 7))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("read %d bytes: %s\n", res.N(), buf[:res.N()])
	// Output: read 8 bytes: io_uring
}

func ExampleWrite() {
	dir, path := exampleFile("hello, world")
	defer os.RemoveAll(dir)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()

	ring, err := uring.New()
	if err != nil {
		log.Fatal(err)
	}
	defer ring.Close()

	if _, err := ring.Do(context.Background(), ops.Write(int(f.Fd()), []byte("ring!"), 7)); err != nil {
		log.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	fmt.Println(string(b))
	// Output: hello, ring!
}

func ExampleStatx() {
	dir, path := exampleFile("twelve bytes")
	defer os.RemoveAll(dir)

	ring, err := uring.New()
	if err != nil {
		log.Fatal(err)
	}
	defer ring.Close()

	var st unix.Statx_t
	if _, err := ring.Do(context.Background(), ops.Statx(unix.AT_FDCWD, path, 0, unix.STATX_SIZE, &st)); err != nil {
		log.Fatal(err)
	}
	fmt.Println("size:", st.Size)
	// Output: size: 12
}

func ExampleTimeout() {
	ring, err := uring.New()
	if err != nil {
		log.Fatal(err)
	}
	defer ring.Close()

	// A timeout that expires completes with ETIME.
	_, err = ring.Do(context.Background(), ops.Timeout(5*time.Millisecond, 0, 0))
	fmt.Println(errors.Is(err, syscall.ETIME))
	// Output: true
}

func ExampleLinkTimeout() {
	ring, err := uring.New()
	if err != nil {
		log.Fatal(err)
	}
	defer ring.Close()

	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		log.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])

	// Nothing is ever written to the pipe: the linked timeout cancels the read.
	buf := make([]byte, 8)
	results := make([]uring.Result, 2)
	err = ring.DoBatch(context.Background(), []ops.Op{
		ops.Read(p[0], buf, -1).Link(),
		ops.LinkTimeout(10*time.Millisecond, 0),
	}, results)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("read:", results[0].Err())
	fmt.Println("timeout:", results[1].Err())
	// Output:
	// read: operation canceled
	// timeout: timer expired
}

func ExampleOp_Link() {
	dir, path := exampleFile("")
	defer os.RemoveAll(dir)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()

	ring, err := uring.New()
	if err != nil {
		log.Fatal(err)
	}
	defer ring.Close()

	// The fsync starts only after the write succeeded.
	results := make([]uring.Result, 2)
	err = ring.DoBatch(context.Background(), []ops.Op{
		ops.Write(int(f.Fd()), []byte("linked"), 0).Link(),
		ops.Fsync(int(f.Fd())),
	}, results)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("write:", results[0].N(), "fsync:", results[1].Err())

	// A failed op cancels the ops linked after it.
	err = ring.DoBatch(context.Background(), []ops.Op{
		ops.Openat(unix.AT_FDCWD, filepath.Join(dir, "missing"), unix.O_RDONLY, 0).Link(),
		ops.Nop(),
	}, results)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("openat:", results[0].Err())
	fmt.Println("nop:", results[1].Err())
	// Output:
	// write: 6 fsync: <nil>
	// openat: no such file or directory
	// nop: operation canceled
}
