//go:build linux

package soak

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/goaio/uring/fs"
)

const (
	blockSize    = 16 << 10
	blocksPerOne = 4 // blocks each goroutine of a session owns
	sessionProcs = 3 // goroutines sharing one open File
	fileSafety   = 20 * time.Second
)

// blockFile is a file of blocks whose contents are known: each block holds
// the pattern of the seed last written there, or is unknown (0) after a
// write that did not finish.
type blockFile struct {
	path  string
	known [sessionProcs * blocksPerOne]uint64
}

// fileWorker opens a file on the ring, runs sessionProcs goroutines of
// ReadAt, WriteAt and Sync on it (with random cancels and deadlines), and
// closes it under their I/O after a random while; then again, until the end.
func (e *env) fileWorker(id int, rng *rand.Rand) {
	bf := &blockFile{path: filepath.Join(e.dir, fmt.Sprintf("blocks-%d", id))}
	for e.running() {
		f, err := fs.OpenFile(bf.path, os.O_RDWR|os.O_CREATE, 0o600, fs.WithRing(e.ring))
		if err != nil {
			e.check("fs.OpenFile", err, 0)
			return
		}
		if !f.UsesRing() {
			e.rec.fail("fs.OpenFile: %s does not use the ring", bf.path)
			f.Close()
			return
		}
		var wg sync.WaitGroup
		for g := range sessionProcs {
			wg.Add(1)
			seed := rng.Uint64()
			go func() {
				defer wg.Done()
				e.fileSession(f, bf, g, rand.New(rand.NewPCG(seed, uint64(g))))
			}()
		}
		time.Sleep(time.Millisecond + randDur(rng, 30*time.Millisecond))
		e.check("fs.File.Close", f.Close(), 0) // under the session's I/O
		e.rec.op("fs.close-under-io")
		if !waitTimeout(&wg, fileSafety) {
			e.rec.fail("fs: a session's calls did not return within %v of Close (hang)\n%s", fileSafety, goroutineDump())
			return
		}
	}
}

// fileSession works on blocks g*blocksPerOne... of f until f is closed.
func (e *env) fileSession(f *fs.File, bf *blockFile, g int, rng *rand.Rand) {
	buf := make([]byte, blockSize)
	want := make([]byte, blockSize)
	for {
		b := g*blocksPerOne + rng.IntN(blocksPerOne)
		off := int64(b) * blockSize
		ctx, cancel, provoked := callCtx(rng, fileSafety, 300*time.Microsecond)
		switch x := rng.IntN(20); {
		case x < 9:
			seed := rng.Uint64() | 1
			fill(buf, seed)
			n, err := f.WriteAtContext(ctx, buf, off)
			cancel()
			bf.known[b] = 0
			if err == nil && n == blockSize {
				bf.known[b] = seed
				e.rec.op("fs.WriteAt")
			} else if err == nil {
				e.rec.fail("fs.WriteAt: %d of %d bytes and no error", n, blockSize)
			}
			if e.fileErr("fs.WriteAt", err, provoked) {
				return
			}
		case x < 19:
			n, err := f.ReadAtContext(ctx, buf, off)
			cancel()
			if seed := bf.known[b]; seed != 0 {
				fill(want, seed)
				if e.verifyPrefix(fmt.Sprintf("fs.ReadAt %s block %d", bf.path, b), buf[:n], want) && err == nil {
					e.rec.op("fs.ReadAt verified")
				}
				if err == nil && n != blockSize {
					e.rec.fail("fs.ReadAt: %d of %d bytes and no error", n, blockSize)
				}
				if e.fileErr("fs.ReadAt", err, provoked) {
					return
				}
			} else {
				e.rec.op("fs.ReadAt unknown block")
				// A block never written completely may end the file.
				if e.fileErr("fs.ReadAt", err, provoked|cEOF) {
					return
				}
			}
		default:
			err := f.SyncContext(ctx)
			cancel()
			if err == nil {
				e.rec.op("fs.Sync")
			}
			if e.fileErr("fs.Sync", err, provoked) {
				return
			}
		}
	}
}

// fileErr accounts for a file call's error; true once the file is closed.
func (e *env) fileErr(where string, err error, provoked class) bool {
	if err == nil {
		return false
	}
	if provoked == 0 {
		// The safety deadline: a call that takes fileSafety is a hang.
		if classify(err) == cDeadline {
			e.rec.fail("%s: did not complete within %v (hang): %v", where, fileSafety, err)
			return true
		}
	}
	return e.check(where, err, cClosed|provoked) == cClosed
}

// wholeFileWorker writes and reads whole files through fs.WriteFile and
// fs.ReadFile, and reads the fixed files with fs.ReadFiles under random
// cancels.
func (e *env) wholeFileWorker(id int, rng *rand.Rand) {
	path := filepath.Join(e.dir, fmt.Sprintf("whole-%d", id))
	for e.running() {
		data := pattern(rng.IntN(256<<10), rng.Uint64())
		if err := fs.WriteFile(path, data, 0o600, fs.WithRing(e.ring)); err != nil {
			e.check("fs.WriteFile", err, 0)
			return
		}
		e.rec.op("fs.WriteFile")
		got, err := fs.ReadFile(path, fs.WithRing(e.ring))
		if err != nil {
			e.check("fs.ReadFile", err, 0)
			return
		}
		if len(got) != len(data) || !e.verifyPrefix("fs.ReadFile", got, data) {
			if len(got) != len(data) {
				e.mismatch("fs.ReadFile", got, data)
			}
		} else {
			e.rec.op("fs.ReadFile verified")
		}

		ctx, cancel, provoked := callCtx(rng, fileSafety, 500*time.Microsecond)
		datas, errs := fs.ReadFiles(ctx, e.fixedPath, fs.WithRing(e.ring))
		cancel()
		for i := range e.fixedPath {
			if errs[i] != nil {
				if provoked == 0 && classify(errs[i]) == cDeadline {
					e.rec.fail("fs.ReadFiles: did not complete within %v (hang): %v", fileSafety, errs[i])
				} else {
					e.check("fs.ReadFiles", errs[i], provoked)
				}
				continue
			}
			if len(datas[i]) != len(e.fixed[i]) {
				e.mismatch("fs.ReadFiles "+e.fixedPath[i], datas[i], e.fixed[i])
			} else if e.verifyPrefix("fs.ReadFiles "+e.fixedPath[i], datas[i], e.fixed[i]) {
				e.rec.op("fs.ReadFiles file verified")
			}
		}
	}
}
