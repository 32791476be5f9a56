//go:build linux

package uringpebble

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// callStats counts the vfs.File calls a workload makes, per phase: how many,
// how many bytes, and how long they took. It wraps either side's vfs.FS the
// same way, so that the two can be set side by side.
type callStats struct {
	phase atomic.Int32
	calls [numPhases][numMethods]methodStats
}

type methodStats struct {
	calls, bytes, nanos atomic.Int64
}

const (
	mRead = iota
	mReadAt
	mWrite
	mWriteAt
	mSync
	mSyncData
	mSyncTo
	mPreallocate
	mPrefetch
	mStat
	mClose
	mOpen // Create, Open, OpenReadWrite, ReuseForWrite
	numMethods
)

var methodNames = [numMethods]string{
	"Read", "ReadAt", "Write", "WriteAt", "Sync", "SyncData", "SyncTo", "Preallocate", "Prefetch", "Stat", "Close", "open",
}

func (c *callStats) setPhase(p int) { c.phase.Store(int32(p)) }

func (c *callStats) record(m int, start time.Time, n int) {
	s := &c.calls[c.phase.Load()][m]
	s.calls.Add(1)
	s.bytes.Add(int64(n))
	s.nanos.Add(int64(time.Since(start)))
}

// wrap returns fsys with every file call counted.
func (c *callStats) wrap(fsys vfs.FS) vfs.FS { return &countingFS{FS: fsys, c: c} }

type countingFS struct {
	vfs.FS
	c *callStats
}

func (fs *countingFS) file(f vfs.File, err error, start time.Time) (vfs.File, error) {
	fs.c.record(mOpen, start, 0)
	if err != nil {
		return nil, err
	}
	return &countingFile{File: f, c: fs.c}, nil
}

func (fs *countingFS) Create(name string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	start := time.Now()
	f, err := fs.FS.Create(name, cat)
	return fs.file(f, err, start)
}

func (fs *countingFS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	start := time.Now()
	f, err := fs.FS.Open(name, opts...)
	return fs.file(f, err, start)
}

func (fs *countingFS) OpenReadWrite(name string, cat vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	start := time.Now()
	f, err := fs.FS.OpenReadWrite(name, cat, opts...)
	return fs.file(f, err, start)
}

func (fs *countingFS) ReuseForWrite(oldname, newname string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	start := time.Now()
	f, err := fs.FS.ReuseForWrite(oldname, newname, cat)
	return fs.file(f, err, start)
}

func (fs *countingFS) Unwrap() vfs.FS { return fs.FS }

type countingFile struct {
	vfs.File
	c *callStats
}

func (f *countingFile) Read(b []byte) (int, error) {
	start := time.Now()
	n, err := f.File.Read(b)
	f.c.record(mRead, start, n)
	return n, err
}

func (f *countingFile) ReadAt(b []byte, off int64) (int, error) {
	start := time.Now()
	n, err := f.File.ReadAt(b, off)
	f.c.record(mReadAt, start, n)
	return n, err
}

func (f *countingFile) Write(b []byte) (int, error) {
	start := time.Now()
	n, err := f.File.Write(b)
	f.c.record(mWrite, start, n)
	return n, err
}

func (f *countingFile) WriteAt(b []byte, off int64) (int, error) {
	start := time.Now()
	n, err := f.File.WriteAt(b, off)
	f.c.record(mWriteAt, start, n)
	return n, err
}

func (f *countingFile) Sync() error {
	start := time.Now()
	err := f.File.Sync()
	f.c.record(mSync, start, 0)
	return err
}

func (f *countingFile) SyncData() error {
	start := time.Now()
	err := f.File.SyncData()
	f.c.record(mSyncData, start, 0)
	return err
}

func (f *countingFile) SyncTo(length int64) (bool, error) {
	start := time.Now()
	full, err := f.File.SyncTo(length)
	f.c.record(mSyncTo, start, 0)
	return full, err
}

func (f *countingFile) Preallocate(off, n int64) error {
	start := time.Now()
	err := f.File.Preallocate(off, n)
	f.c.record(mPreallocate, start, int(n))
	return err
}

func (f *countingFile) Prefetch(off, n int64) error {
	start := time.Now()
	err := f.File.Prefetch(off, n)
	f.c.record(mPrefetch, start, int(n))
	return err
}

func (f *countingFile) Stat() (vfs.FileInfo, error) {
	start := time.Now()
	fi, err := f.File.Stat()
	f.c.record(mStat, start, 0)
	return fi, err
}

func (f *countingFile) Close() error {
	start := time.Now()
	err := f.File.Close()
	f.c.record(mClose, start, 0)
	return err
}

// printCallTable writes, per phase, each method's calls, mean bytes and mean
// and total time on both sides, for the methods either side spent time in.
func printCallTable(w io.Writer, std, ours *callStats, runs int) {
	fmt.Fprintf(w, "\nvfs.File calls per run (mean over %d runs), default vs uring:\n", runs)
	fmt.Fprintf(w, "%-15s %-12s %9s %9s %9s %10s %10s %9s %9s %9s\n",
		"phase", "method", "def calls", "our calls", "B/call", "def µs/op", "our µs/op", "def ms", "our ms", "Δ ms")
	for p := range numPhases {
		type row struct {
			m     int
			delta float64
		}
		var rows []row
		for m := range numMethods {
			d, o := &std.calls[p][m], &ours.calls[p][m]
			if d.calls.Load() == 0 && o.calls.Load() == 0 {
				continue
			}
			rows = append(rows, row{m, float64(o.nanos.Load() - d.nanos.Load())})
		}
		sort.Slice(rows, func(i, j int) bool { return rows[i].delta > rows[j].delta })
		for _, r := range rows {
			d, o := &std.calls[p][r.m], &ours.calls[p][r.m]
			per := func(s *methodStats) float64 {
				if s.calls.Load() == 0 {
					return 0
				}
				return float64(s.nanos.Load()) / float64(s.calls.Load()) / 1e3
			}
			bytesPer := int64(0)
			if n := o.calls.Load() + d.calls.Load(); n > 0 {
				bytesPer = (o.bytes.Load() + d.bytes.Load()) / n
			}
			perRun := func(v int64) float64 { return float64(v) / float64(runs) }
			fmt.Fprintf(w, "%-15s %-12s %9.1f %9.1f %9d %10.1f %10.1f %9.1f %9.1f %+9.1f\n",
				phaseNames[p], methodNames[r.m], perRun(d.calls.Load()), perRun(o.calls.Load()), bytesPer, per(d), per(o),
				perRun(d.nanos.Load())/1e6, perRun(o.nanos.Load())/1e6, r.delta/1e6/float64(runs))
		}
	}
	fmt.Fprintln(w, strings.Repeat("-", 100))
}
