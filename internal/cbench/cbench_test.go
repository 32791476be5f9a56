//go:build linux && cgo

package cbench

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// skipUnsupported skips when io_uring is blocked or missing here, unless
// URING_REQUIRE=1 asks for a failure instead.
func skipUnsupported(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		if os.Getenv("URING_REQUIRE") == "1" {
			t.Fatalf("io_uring unavailable: %v", err)
		}
		t.Skipf("io_uring unavailable: %v", err)
	}
}

func TestNop(t *testing.T) {
	r, err := Nop(32, 20*time.Millisecond)
	skipUnsupported(t, err)
	if err != nil {
		t.Fatal(err)
	}
	if r.Ops == 0 || r.Ops%32 != 0 || r.Elapsed < 20*time.Millisecond {
		t.Fatalf("Nop: %+v", r)
	}
	if _, err := Nop(0, time.Millisecond); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("Nop(0): %v, want EINVAL", err)
	}
}

func TestRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(path, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, flags := range []int{0, syscall.O_DIRECT} {
		fd, err := syscall.Open(path, syscall.O_RDONLY|flags, 0)
		if err != nil {
			if flags != 0 && errors.Is(err, syscall.EINVAL) {
				t.Logf("O_DIRECT unsupported here: %v", err)
				continue
			}
			t.Fatal(err)
		}
		r, err := Read(fd, 1<<20, 8, 20*time.Millisecond, 1)
		syscall.Close(fd)
		skipUnsupported(t, err)
		if err != nil {
			t.Fatalf("flags %#x: %v", flags, err)
		}
		if r.Ops == 0 || r.Elapsed < 20*time.Millisecond {
			t.Fatalf("flags %#x: %+v", flags, r)
		}
	}
	// A file shorter than it claims: reads past EOF come back short.
	fd, err := syscall.Open(path, syscall.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if _, err := Read(fd, 1<<30, 8, 20*time.Millisecond, 1); !errors.Is(err, syscall.EIO) {
		t.Fatalf("short reads: %v, want EIO", err)
	}
}

// TestEcho runs the C client against each C server on loopback: every byte
// comes back (the client checks), and the server stops when told.
func TestEcho(t *testing.T) {
	for _, kind := range []string{"epoll", "uring"} {
		t.Run(kind, func(t *testing.T) {
			lfd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer syscall.Close(lfd)
			if err := syscall.Bind(lfd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Listen(lfd, 1024); err != nil {
				t.Fatal(err)
			}
			sa, err := syscall.Getsockname(lfd)
			if err != nil {
				t.Fatal(err)
			}
			var pipe [2]int
			if err := syscall.Pipe2(pipe[:], syscall.O_CLOEXEC); err != nil {
				t.Fatal(err)
			}
			defer syscall.Close(pipe[0])
			defer syscall.Close(pipe[1])
			done := make(chan error, 1)
			go func() { done <- ServeEcho(kind, lfd, pipe[0]) }()
			addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*syscall.SockaddrInet4).Port))
			r, err := EchoClient(addr, 50, 128, 100*time.Millisecond)
			skipUnsupported(t, err)
			if err != nil {
				t.Fatalf("client: %v", err)
			}
			if r.Ops == 0 {
				t.Fatalf("no round trip: %+v", r)
			}
			syscall.Write(pipe[1], []byte{1, 0, 0, 0, 0, 0, 0, 0})
			select {
			case err := <-done:
				skipUnsupported(t, err)
				if err != nil {
					t.Fatalf("server: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the server did not stop")
			}
			t.Logf("%s: %d round trips in %v", kind, r.Ops, r.Elapsed)
		})
	}
}
