//go:build linux

package uringpebble

import (
	"errors"
	"os"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
)

// The workload, small: on FS and on vfs.Default every value read must be
// its key's, and both must scan the same keys and values. FS must have
// used the ring.
func TestWorkload(t *testing.T) {
	w := workload{
		keys: 20_000, valueSize: 512, batchKeys: 500, tailKeys: 2_000,
		randomGets: 6_400, evictedGets: 1_600, goroutines: 32, cacheSize: 1 << 20,
	}
	if testing.Short() || raceEnabled {
		w.keys, w.tailKeys, w.randomGets, w.evictedGets = 4_000, 400, 1_600, 640
	}
	dir := t.TempDir()
	var why string
	if w.evict, why = canEvict(dir); !w.evict {
		t.Logf("the evicted-reads phase is skipped: %s", why)
	}
	ring, ringErr := uring.Default()
	if ringErr != nil {
		if requireURing() {
			t.Fatalf("io_uring required (URING_REQUIRE=1): %v", ringErr)
		}
		t.Logf("io_uring unavailable: FS runs on fs.File's os fallback: %v", ringErr)
	}
	var before uint64
	if ring != nil {
		before = ring.Stats().Submitted
	}
	ours := runWorkload(t, FS(), t.TempDir(), w, "uring", nil)
	var submitted uint64
	if ring != nil {
		submitted = ring.Stats().Submitted - before
	}
	std := runWorkload(t, vfs.Default, t.TempDir(), w, "default", nil)

	require.Equal(t, w.keys+w.tailKeys, ours.count)
	require.Equal(t, std.count, ours.count, "keys scanned")
	require.Equal(t, std.digest, ours.digest, "the scans' digests differ")
	t.Logf("FS made %d ring operations", submitted)
	if ring != nil && w.evict && nowaitReads(t, dir) {
		// Reads that miss the page cache go to the ring whatever fs's
		// dispatch rule does with the rest; where the file system has no
		// RWF_NOWAIT reads (overlayfs) every read is a system call.
		require.NotZero(t, submitted, "FS made no ring operation, even for reads of evicted files")
	}
	for p := range numPhases {
		t.Logf("%-15s uring %8.3fs  default %8.3fs", phaseNames[p], ours.times[p].Seconds(), std.times[p].Seconds())
	}
}

// requireURing reports whether io_uring must work (URING_REQUIRE=1, as CI
// sets) rather than be skipped.
func requireURing() bool { return os.Getenv("URING_REQUIRE") == "1" }

// nowaitReads reports whether dir's file system serves preadv2(RWF_NOWAIT):
// tmpfs, overlayfs and FUSE answer EOPNOTSUPP.
func nowaitReads(t *testing.T, dir string) bool {
	f, err := os.CreateTemp(dir, "nowait-")
	require.NoError(t, err)
	defer os.Remove(f.Name())
	defer f.Close()
	_, err = unix.Preadv2(int(f.Fd()), [][]byte{make([]byte, 1)}, 0, unix.RWF_NOWAIT)
	return !errors.Is(err, unix.EOPNOTSUPP)
}
