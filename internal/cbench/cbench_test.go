//go:build linux && cgo

package cbench

import (
	"errors"
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
