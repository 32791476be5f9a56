//go:build linux

package uringpebble

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/internal/pagecache"
)

// ringSubmitted is how many operations uring.Default has been given: the
// workload counts them per phase, to see what reaches the ring.
func ringSubmitted() uint64 {
	r, err := uring.Default()
	if err != nil {
		return 0
	}
	return r.Stats().Submitted
}

// The workload TestWorkload runs small and BenchmarkWorkload full size: bulk
// writes in batches, a flush, a full compaction, a reopen that replays a WAL,
// every key read back, a full scan, random gets from 32 goroutines, and
// random gets from files evicted from the page cache. Every value read is
// checked against the one its key determines.

// The phases, in the order they run.
const (
	phaseWrite = iota
	phaseFlush
	phaseCompact
	phaseReopen
	phaseReadAll
	phaseIterate
	phaseRandomGets
	phaseEvictedReads
	numPhases
)

var phaseNames = [numPhases]string{
	"write", "flush", "compact", "reopen", "read-all", "iterate", "random-gets-32", "evicted-reads",
}

// workload sizes one run.
type workload struct {
	keys        int   // bulk-written keys
	valueSize   int   // bytes per value
	batchKeys   int   // keys per batch
	tailKeys    int   // keys written after the compaction and left in the WAL, which reopen replays
	randomGets  int   // gets in phaseRandomGets, across all goroutines
	evictedGets int   // gets in phaseEvictedReads, across all goroutines
	goroutines  int   // readers in phaseRandomGets and phaseEvictedReads
	cacheSize   int64 // Pebble's block cache: small, so that reads reach the files
	// evict says whether phaseEvictedReads runs: false where the page cache
	// cannot be dropped (tmpfs); the phase is then skipped.
	evict bool
}

// result is what a run measured and read.
type result struct {
	times   [numPhases]time.Duration
	ringOps [numPhases]uint64 // operations submitted to uring.Default during each phase (both sides: the default side's should be 0)
	count   int               // keys the scan saw
	digest  uint64            // FNV-1a of every key and value, in scan order
}

func key(buf []byte, i int) []byte { return fmt.Appendf(buf[:0], "key%010d", i) }

// value fills buf with key i's value: half pseudo-random bytes from i, half
// a repeated byte, so that compression has something to do (about 2:1).
func value(buf []byte, i, size int) []byte {
	buf = buf[:size]
	r := rand.New(rand.NewPCG(uint64(i), 0x9e3779b97f4a7c15))
	half := size / 2
	for j := 0; j < half; j += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], r.Uint64())
		copy(buf[j:half], w[:])
	}
	for j := half; j < size; j++ {
		buf[j] = byte(i)
	}
	return buf
}

// checkValue returns an error unless v is key i's value.
func checkValue(v []byte, i, size int, scratch []byte) error {
	want := value(scratch, i, size)
	if string(v) != string(want) {
		return fmt.Errorf("key %d: value of %d bytes differs from the expected %d bytes", i, len(v), len(want))
	}
	return nil
}

// options are the Pebble options of both sides: a memtable that holds a
// round of the bulk write and the tail (so neither flushes early), no automatic
// compactions (the compact phase does them all), and a small block cache,
// so reads reach the files.
func options(fsys vfs.FS, cache *pebble.Cache) *pebble.Options {
	return &pebble.Options{
		FS:                          fsys,
		Cache:                       cache,
		MemTableSize:                256 << 20,
		DisableAutomaticCompactions: true,
		Logger:                      quietLogger{},
	}
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)         {}
func (quietLogger) Errorf(f string, args ...any) { fmt.Fprintf(os.Stderr, "pebble: "+f+"\n", args...) }
func (quietLogger) Fatalf(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }

// runWorkload runs w with Pebble on fsys in dir (which must be empty). label
// names the side in CPU profiles (pprof labels fs and phase); onPhase, if
// not nil, is called as each phase starts.
func runWorkload(tb testing.TB, fsys vfs.FS, dir string, w workload, label string, onPhase func(phase int)) result {
	tb.Helper()
	var res result
	cache := pebble.NewCache(w.cacheSize)
	defer cache.Unref()
	var db *pebble.DB
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	timed := func(phase int, fn func() error) {
		tb.Helper()
		if onPhase != nil {
			onPhase(phase)
		}
		var err error
		labels := pprof.Labels("fs", label, "phase", phaseNames[phase])
		ops := ringSubmitted()
		start := time.Now()
		pprof.Do(context.Background(), labels, func(context.Context) { err = fn() })
		res.times[phase] += time.Since(start)
		res.ringOps[phase] += ringSubmitted() - ops
		if err != nil {
			tb.Fatalf("%s: %s: %v", label, phaseNames[phase], err)
		}
	}
	open := func() (err error) {
		db, err = pebble.Open(dir, options(fsys, cache))
		return err
	}
	if err := open(); err != nil {
		tb.Fatalf("%s: open: %v", label, err)
	}

	// The bulk write goes in flushRounds rounds of interleaved keys, each
	// flushed on its own: the L0 files of every round span the whole key
	// range, so the compaction has to merge them all rather than move them.
	for r := range flushRounds {
		timed(phaseWrite, func() error { return writeKeys(db, 0, w.keys, r, flushRounds, w) })
		timed(phaseFlush, db.Flush)
	}
	timed(phaseCompact, func() error {
		var kb, ke [16]byte
		return db.Compact(context.Background(), key(kb[:], 0), key(ke[:], w.keys+w.tailKeys), true)
	})
	// The tail stays in the memtable and the WAL: reopening replays it.
	if err := writeKeys(db, w.keys, w.tailKeys, 0, 1, w); err != nil {
		tb.Fatalf("%s: tail: %v", label, err)
	}
	timed(phaseReopen, func() error {
		err := db.Close()
		db = nil
		if err != nil {
			return err
		}
		return open()
	})
	if err := db.Flush(); err != nil { // the replayed tail, before reads are timed
		tb.Fatalf("%s: flush after reopen: %v", label, err)
	}
	total := w.keys + w.tailKeys

	timed(phaseReadAll, func() error {
		var kb [16]byte
		scratch := make([]byte, w.valueSize)
		for i := range total {
			if err := get(db, key(kb[:], i), i, w.valueSize, scratch); err != nil {
				return err
			}
		}
		return nil
	})
	timed(phaseIterate, func() error {
		it, err := db.NewIter(nil)
		if err != nil {
			return err
		}
		h := fnv.New64a()
		var kb [16]byte
		scratch := make([]byte, w.valueSize)
		i := 0
		for valid := it.First(); valid; valid = it.Next() {
			if want := key(kb[:], i); string(it.Key()) != string(want) {
				it.Close()
				return fmt.Errorf("scan: key %d is %q, want %q", i, it.Key(), want)
			}
			v, err := it.ValueAndErr()
			if err == nil {
				err = checkValue(v, i, w.valueSize, scratch)
			}
			if err != nil {
				it.Close()
				return fmt.Errorf("scan: %w", err)
			}
			h.Write(it.Key())
			h.Write(v)
			i++
		}
		if err := it.Close(); err != nil {
			return err
		}
		if i != total {
			return fmt.Errorf("scan saw %d keys, want %d", i, total)
		}
		res.count, res.digest = i, h.Sum64()
		return nil
	})
	timed(phaseRandomGets, func() error { return randomGets(db, total, w.randomGets, w, 1) })
	if w.evict {
		if err := evict(dir); err != nil {
			tb.Fatalf("%s: evicting %s: %v", label, dir, err)
		}
		timed(phaseEvictedReads, func() error { return randomGets(db, total, w.evictedGets, w, 2) })
	}
	err := db.Close()
	db = nil
	if err != nil {
		tb.Fatalf("%s: close: %v", label, err)
	}
	return res
}

// flushRounds is how many rounds the bulk write and the flush take.
const flushRounds = 4

// writeKeys writes the keys i of [from, from+n) with i-from ≡ round (mod
// rounds), in batches of w.batchKeys, in a scattered order (a stride
// coprime with their count), without syncing the WAL.
func writeKeys(db *pebble.DB, from, n, round, rounds int, w workload) error {
	m := (n - round + rounds - 1) / rounds // keys in this round
	if m <= 0 {
		return nil
	}
	stride := 7919 // prime
	for m%stride == 0 {
		stride += 2
	}
	var kb [16]byte
	vb := make([]byte, w.valueSize)
	b := db.NewBatch()
	for j := range m {
		i := from + round + rounds*(j*stride%m)
		if err := b.Set(key(kb[:], i), value(vb, i, w.valueSize), nil); err != nil {
			return err
		}
		if b.Count() >= uint32(w.batchKeys) || j == m-1 {
			if err := b.Commit(pebble.NoSync); err != nil {
				return err
			}
			b.Close()
			b = db.NewBatch()
		}
	}
	return b.Close()
}

func get(db *pebble.DB, k []byte, i, size int, scratch []byte) error {
	v, closer, err := db.Get(k)
	if err != nil {
		return fmt.Errorf("get %q: %w", k, err)
	}
	err = checkValue(v, i, size, scratch)
	closer.Close()
	return err
}

// randomGets reads n random keys of [0, total) from w.goroutines goroutines,
// each with its own seeded sequence.
func randomGets(db *pebble.DB, total, n int, w workload, seed uint64) error {
	var wg sync.WaitGroup
	errs := make([]error, w.goroutines)
	for g := range w.goroutines {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(g)))
			var kb [16]byte
			scratch := make([]byte, w.valueSize)
			for range n / w.goroutines {
				i := r.IntN(total)
				if err := get(db, key(kb[:], i), i, w.valueSize, scratch); err != nil {
					errs[g] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// evict drops every file in dir from the page cache (POSIX_FADV_DONTNEED,
// after an fdatasync so that no page is dirty) and checks the largest is gone.
func evict(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var largest string
	var largestSize int64
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			f.Close()
			return err
		}
		err = pagecache.Drop(f)
		f.Close()
		if err != nil {
			return err
		}
		if info, err := e.Info(); err == nil && info.Size() > largestSize {
			largest, largestSize = p, info.Size()
		}
	}
	if largest == "" {
		return nil
	}
	f, err := os.Open(largest)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := pagecache.Resident(f)
	if err != nil {
		return err
	}
	if res > 0.5 {
		return fmt.Errorf("%.0f%% of %s stayed in the page cache after FADV_DONTNEED", res*100, largest)
	}
	return nil
}

// canEvict reports whether dir's file system lets FADV_DONTNEED drop pages,
// and if not, why.
func canEvict(dir string) (bool, string) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false, err.Error()
	}
	if st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC {
		return false, dir + " is tmpfs: its files live in the page cache and cannot be evicted (set TMPDIR to a disk)"
	}
	// Other file systems may keep pages too (overlayfs in a container):
	// try it with the system calls themselves.
	p := filepath.Join(dir, "evictable")
	if err := os.WriteFile(p, make([]byte, 1<<20), 0o600); err != nil {
		return false, err.Error()
	}
	defer os.Remove(p)
	f, err := os.Open(p)
	if err != nil {
		return false, err.Error()
	}
	defer f.Close()
	if res, err := pagecache.Resident(f); err != nil || res < 0.9 {
		// FUSE's bindfs: nothing cached to begin with, nothing to evict.
		return false, fmt.Sprintf("%s keeps no written pages cached (resident %.2f, %v)", dir, res, err)
	}
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return false, err.Error()
	}
	if err := pagecache.Drop(f); err != nil {
		return false, err.Error()
	}
	if res, err := pagecache.Resident(f); err != nil || res > 0.1 {
		return false, fmt.Sprintf("%s keeps pages cached after fdatasync and FADV_DONTNEED (resident %.2f, %v)", dir, res, err)
	}
	return true, ""
}
