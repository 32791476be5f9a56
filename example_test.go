//go:build linux

package uring_test

// Every example here needs io_uring: TestMain (main_test.go) leaves them out,
// with the reason, where it is unavailable.

import (
	"context"
	"encoding/json"
	"errors"
	"expvar"
	"fmt"
	"log"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

// exampleFile returns a temporary file holding content, open for reading
// and writing; the caller closes and removes it.
func exampleFile(content string) *os.File {
	f, err := os.CreateTemp("", "uring-example")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		log.Fatal(err)
	}
	return f
}

// examplePipe returns a pipe that nothing is ever written to, so a read on
// it blocks until it is cancelled.
func examplePipe() (r, w int) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		log.Fatal(err)
	}
	return p[0], p[1]
}

// Read a file with one io_uring round trip, falling back to the os package
// where io_uring is unavailable (for example under Docker's default seccomp
// profile).
func ExampleRing_Do() {
	f := exampleFile("hello, io_uring\n")
	defer os.Remove(f.Name())
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
		log.Fatal(err)
	}
	fmt.Print(string(buf[:res.N()]))
	// Output: hello, io_uring
}

// Several operations in one submission; Link makes each wait for the one
// before it, so the read sees the write.
func ExampleRing_DoBatch() {
	ring, err := uring.New()
	if err != nil {
		log.Fatal(err)
	}
	defer ring.Close()
	f := exampleFile("")
	defer os.Remove(f.Name())
	defer f.Close()

	fd := int(f.Fd())
	buf := make([]byte, 16)
	results := make([]uring.Result, 3)
	err = ring.DoBatch(context.Background(), []ops.Op{
		ops.Write(fd, []byte("batch"), 0).Link(),
		ops.Fdatasync(fd).Link(),
		ops.Read(fd, buf, 0),
	}, results)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("wrote %d, synced: %v, read %q\n", results[0].N(), results[1].Err(), buf[:results[2].N()])
	// Output: wrote 5, synced: <nil>, read "batch"
}

// A deadline on the context becomes an io_uring linked timeout: the read is
// cancelled by the kernel, and Do returns once the kernel has let go of buf.
func ExampleRing_Do_timeout() {
	ring, err := uring.New()
	if err != nil {
		log.Fatal(err)
	}
	defer ring.Close()
	r, w := examplePipe()
	defer unix.Close(r)
	defer unix.Close(w)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	buf := make([]byte, 16)
	_, err = ring.Do(ctx, ops.Read(r, buf, -1))
	fmt.Println(errors.Is(err, context.DeadlineExceeded))
	// Output: true
}

// Cancelling the context cancels the operation in the kernel.
func ExampleRing_Do_cancel() {
	ring, err := uring.New()
	if err != nil {
		log.Fatal(err)
	}
	defer ring.Close()
	r, w := examplePipe()
	defer unix.Close(r)
	defer unix.Close(w)

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	_, err = ring.Do(ctx, ops.Read(r, make([]byte, 16), -1))
	fmt.Println(err)
	// Output: context canceled
}

// A Future can be selected on together with other channels. Here two
// timers race; the loser is cancelled.
func ExampleRing_Submit() {
	ring, err := uring.New()
	if err != nil {
		log.Fatal(err)
	}
	defer ring.Close()
	ctx := context.Background()
	fast, _ := ring.Submit(ctx, ops.Timeout(5*time.Millisecond, 0, 0))
	slow, _ := ring.Submit(ctx, ops.Timeout(time.Hour, 0, 0))

	select {
	case <-fast.Done():
		_, err := fast.Wait()
		fmt.Println("fast:", err) // a timeout that expires completes with ETIME
	case <-slow.Done():
		fmt.Println("slow first")
	}
	slow.Cancel()
	_, err = slow.Wait()
	fmt.Println("slow:", err)
	// Output:
	// fast: timer expired
	// slow: operation canceled
}

// Async runs a function with the result instead of parking the caller. The
// function runs on a callback goroutine of the Ring's, one callback at a
// time: it may block or call the Ring, but the callbacks behind it wait.
// Here it hands the result over a buffered channel.
func ExampleRing_Async() {
	ring, err := uring.New()
	if err != nil {
		log.Fatal(err)
	}
	defer ring.Close()
	f := exampleFile("hello from a callback")
	defer os.Remove(f.Name())
	defer f.Close()

	buf := make([]byte, 64)
	done := make(chan string, 1)
	err = ring.Async(context.Background(), ops.Read(int(f.Fd()), buf, 0), func(res uring.Result, err error) {
		if err != nil {
			done <- err.Error()
			return
		}
		done <- string(buf[:res.N()])
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-done)
	// Output: hello from a callback
}

// A multishot operation is read as an iterator; breaking out cancels it.
// A multishot timeout (Linux 6.4) completes with ETIME on every tick.
func ExampleRing_Stream() {
	ring, err := uring.New()
	if err != nil {
		log.Fatal(err)
	}
	defer ring.Close()
	ticks := 0
	for res, err := range ring.Stream(context.Background(), ops.TimeoutMulti(time.Millisecond, 0)) {
		ticks++
		fmt.Printf("tick %d: %v, more: %v\n", ticks, err, res.More())
		if ticks == 3 {
			break
		}
	}
	// Output:
	// tick 1: timer expired, more: true
	// tick 2: timer expired, more: true
	// tick 3: timer expired, more: true
}

// A multishot receive takes a buffer from a provided-buffer ring (Linux
// 5.19) for each message, so no buffer is tied up by a receive that waits.
// Bytes views the data in place; Release hands the buffer back.
func ExampleBufferRing() {
	ring, err := uring.New()
	if err != nil {
		log.Fatal(err)
	}
	defer ring.Close()
	const group = 1
	br, err := ring.NewBufferRing(group, 4, 64) // 4 buffers of 64 bytes
	if err != nil {
		log.Fatal(err)
	}
	defer br.Close()

	// A datagram socket pair keeps the messages apart.
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	for _, msg := range []string{"one", "two", "three"} {
		unix.Write(fds[1], []byte(msg))
	}

	received := 0
	for res, err := range ring.Stream(context.Background(), ops.RecvMulti(fds[0], group, 0)) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(string(br.Bytes(res)))
		br.Release(res)
		if received++; received == 3 {
			break // cancels the receive
		}
	}
	// Output:
	// one
	// two
	// three
}

// Registered (fixed) files: an op with ops.FlagFixedFile names a file by
// its index in the ring's table, which saves the kernel a file-table lookup
// and reference count per operation.
func ExampleRing_RegisterFiles() {
	ring, err := uring.New()
	if err != nil {
		log.Fatal(err)
	}
	defer ring.Close()
	f := exampleFile("read through a fixed file")
	defer os.Remove(f.Name())
	defer f.Close()

	if err := ring.RegisterFiles([]int{int(f.Fd())}); err != nil {
		log.Fatal(err)
	}
	defer ring.UnregisterFiles()
	buf := make([]byte, 64)
	const index = 0 // f's place in the table, not its descriptor
	res, err := ring.Do(context.Background(), ops.Read(index, buf, 0).WithFlags(ops.FlagFixedFile))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(buf[:res.N()]))
	// Output: read through a fixed file
}

// Available says whether io_uring can be used here, and why not.
func ExampleAvailable() {
	if err := uring.Available(); err != nil {
		fmt.Println("falling back:", err)
		return
	}
	fmt.Println("io_uring is available")
	// Output: io_uring is available
}

// A service publishes its Ring's counters with expvar: /debug/vars (or
// expvar.Get) then shows them as JSON.
func ExampleRing_StatsVar() {
	ring, err := uring.New(uring.WithShards(1))
	if err != nil {
		log.Fatal(err)
	}
	defer ring.Close()
	expvar.Publish("uring", ring.StatsVar())

	for range 3 {
		if _, err := ring.Do(context.Background(), ops.Nop()); err != nil {
			log.Fatal(err)
		}
	}
	var st struct {
		Submitted, Completed uint64
		ParksPerOp           float64
	}
	if err := json.Unmarshal([]byte(expvar.Get("uring").String()), &st); err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.Submitted, st.Completed, st.ParksPerOp)
	// Output: 3 3 0
}
