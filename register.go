package uring

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
	"unsafe"
)

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

// registeredBuffers keeps registered Go buffers pinned: the kernel holds
// their pages for as long as they are registered.
type registeredBuffers struct {
	bufs [][]byte
	pin  runtime.Pinner
}

// RegisterFiles registers fds as the Ring's fixed-file table: an op with
// ops.FlagFixedFile then names fds[i] by i, which saves the kernel a
// file-table lookup and reference count per op. -1 leaves an entry empty.
//
// The table is one table however many shards the Ring has: it lives in the
// first shard, and every op that uses a fixed file or creates or closes a
// direct descriptor (an open or accept into a table slot, CloseFixed,
// FilesUpdate) runs on that shard, whichever goroutine submits it. Direct
// descriptors are therefore seen by every goroutine at once, at the price of
// one shard's throughput for fixed-file work.
func (r *Ring) RegisterFiles(fds []int) error {
	if len(fds) == 0 {
		return errors.New("uring: RegisterFiles: no files")
	}
	table := make([]int32, len(fds))
	for i, fd := range fds {
		table[i] = int32(fd)
	}
	return r.live(func() error { return r.shards[0].k.registerFiles(table) })
}

// RegisterFilesSparse registers an empty fixed-file table of n entries, to be
// filled by UpdateFiles or by direct-descriptor opens and accepts.
func (r *Ring) RegisterFilesSparse(n int) error {
	return r.live(func() error { return r.shards[0].k.registerFilesSparse(n) })
}

// UpdateFiles replaces fixed-file entries from index off on with fds.
func (r *Ring) UpdateFiles(off int, fds []int) error {
	if len(fds) == 0 {
		return r.live(func() error { return nil })
	}
	table := make([]int32, len(fds))
	for i, fd := range fds {
		table[i] = int32(fd)
	}
	return r.live(func() error {
		_, err := r.shards[0].k.updateFiles(off, table)
		return err
	})
}

// UnregisterFiles drops the fixed-file table.
func (r *Ring) UnregisterFiles() error {
	return r.live(func() error { return r.shards[0].k.unregisterFiles() })
}

// RegisterBuffers registers bufs for ops.ReadFixed and ops.WriteFixed: the
// kernel maps their pages once instead of per op. The buffers stay pinned
// until UnregisterBuffers or Close; do not let them go while registered.
// Every shard registers them, so fixed-buffer ops run on any shard.
//
// The kernel charges registered buffers to RLIMIT_MEMLOCK, for each shard
// separately, unless the process has CAP_IPC_LOCK (root has it, root in most
// containers does not): a Ring of n shards (Shards) needs n times the pages
// the buffers span (a transparent huge page counts whole) under the soft
// limit (ulimit -l), next to whatever else the user has locked. Registration is
// all or nothing: when a shard refuses, the shards before it are
// unregistered again and the Ring is left as it was, so a later call can
// succeed. The error names the shard and wraps the kernel's errno
// (errors.Is(err, syscall.ENOMEM) when the limit is the cause).
func (r *Ring) RegisterBuffers(bufs [][]byte) error {
	if len(bufs) == 0 {
		return errors.New("uring: RegisterBuffers: no buffers")
	}
	return r.live(func() error {
		r.regMu.Lock()
		defer r.regMu.Unlock()
		if r.regBufs != nil {
			return errors.New("uring: RegisterBuffers: buffers already registered")
		}
		rb := &registeredBuffers{bufs: bufs}
		pairs := make([]uint64, 0, 2*len(bufs))
		for _, b := range bufs {
			if len(b) == 0 {
				rb.pin.Unpin()
				return errors.New("uring: RegisterBuffers: empty buffer")
			}
			p := unsafe.Pointer(unsafe.SliceData(b))
			rb.pin.Pin(p)
			pairs = append(pairs, uint64(uintptr(p)), uint64(len(b)))
		}
		for i, s := range r.shards {
			if err := s.k.registerBuffers(pairs); err != nil {
				// Undo the shards that took them, so that the Ring is as it
				// was and a later call can succeed.
				var undo error
				for j, s := range r.shards[:i] {
					if uerr := s.k.unregisterBuffers(); uerr != nil {
						undo = errors.Join(undo, fmt.Errorf("shard %d: %w", j, uerr))
					}
				}
				rb.pin.Unpin()
				return r.shardError("RegisterBuffers", i, err, undo,
					"registered buffers are charged", pinnedSize(bufs))
			}
		}
		r.regBufs = rb
		return nil
	})
}

// pinnedSize is how much memory the kernel pins to register bufs: the pages
// they span.
func pinnedSize(bufs [][]byte) uint64 {
	page := uintptr(os.Getpagesize())
	var n uint64
	for _, b := range bufs {
		start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
		end := start + uintptr(len(b))
		n += uint64((end+page-1)&^(page-1) - start&^(page-1))
	}
	return n
}

// shardError is the error of a registration that shard i refused with err,
// after it was undone on the shards before i (undo: what failed in that).
// For ENOMEM under a finite RLIMIT_MEMLOCK it adds what is charged to that
// limit: charged says what, perShard how much on every shard.
func (r *Ring) shardError(op string, i int, err, undo error, charged string, perShard uint64) error {
	where := ""
	if n := len(r.shards); n > 1 {
		where = fmt.Sprintf("shard %d of %d: ", i, n)
	}
	if undo != nil {
		return errors.Join(fmt.Errorf("uring: %s: %s%w", op, where, err),
			fmt.Errorf("uring: %s: undoing the shards before %d: %w", op, i, undo))
	}
	hint := ""
	if limit, ok := memlockLimit(); ok && errors.Is(err, syscall.ENOMEM) {
		n := len(r.shards)
		shards := "shards"
		if n == 1 {
			shards = "shard"
		}
		hint = fmt.Sprintf(" (%s against RLIMIT_MEMLOCK once per shard unless the process has CAP_IPC_LOCK: "+
			"%d %s x %s = %s, and the soft limit is %s for all the user has locked; nothing was left registered)",
			charged, n, shards, sizeString(perShard), sizeString(uint64(n)*perShard), sizeString(limit))
	}
	return fmt.Errorf("uring: %s: %s%w%s", op, where, err, hint)
}

// sizeString formats n bytes for an error message.
func sizeString(n uint64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// UnregisterBuffers drops the registered buffers and unpins them.
func (r *Ring) UnregisterBuffers() error {
	return r.live(func() error {
		r.regMu.Lock()
		defer r.regMu.Unlock()
		if r.regBufs == nil {
			return errors.New("uring: UnregisterBuffers: none registered")
		}
		var first error
		for _, s := range r.shards {
			if err := s.k.unregisterBuffers(); err != nil && first == nil {
				first = err
			}
		}
		r.regBufs.pin.Unpin()
		r.regBufs = nil
		return first
	})
}

// BufferRing is a provided-buffer ring (IORING_REGISTER_PBUF_RING, Linux
// 5.19): buffers the kernel picks from when an op with ops.FlagBufferSelect
// needs one, such as ops.RecvMulti. Each shard has its own ring of Entries
// buffers of Size bytes, in C memory.
type BufferRing struct {
	r       *Ring
	Group   uint16
	Entries int
	Size    int
	mu      sync.Mutex // io_uring_buf_ring_add is not safe for concurrent use
	rings   []*cBufRing
	closed  bool
}

// NewBufferRing registers buffer group group with entries buffers (a power of
// two) of size bytes on every shard.
//
// Each shard has a ring of its own: the buffers' memory (entries x size, in
// C memory) and the ring of entries x 16 bytes the kernel reads them from are
// multiplied by Shards. Recent kernels (Linux 6.18 does) charge that ring to
// RLIMIT_MEMLOCK, as RegisterBuffers' buffers are, unless the process has
// CAP_IPC_LOCK. Registration is all or nothing: when a shard refuses, the
// group is unregistered from the shards before it, and the error names the
// shard and wraps the kernel's errno.
func (r *Ring) NewBufferRing(group uint16, entries, size int) (*BufferRing, error) {
	if entries <= 0 || entries&(entries-1) != 0 || entries > 32768 || size <= 0 {
		return nil, errors.New("uring: NewBufferRing: entries must be a power of two up to 32768, size positive")
	}
	br := &BufferRing{r: r, Group: group, Entries: entries, Size: size}
	err := r.live(func() error {
		for i, s := range r.shards {
			b, err := s.k.newBufRing(entries, size, group, 0)
			if err != nil {
				ringSize := (uint64(entries)*bufRingEntrySize + uint64(os.Getpagesize()) - 1) &^ (uint64(os.Getpagesize()) - 1)
				// br.Close, below, undoes the shards before i.
				return r.shardError(fmt.Sprintf("NewBufferRing: group %d", group), i, err, nil,
					"recent kernels charge buffer rings", ringSize)
			}
			br.rings = append(br.rings, b)
		}
		r.regMu.Lock()
		if r.bufRings == nil {
			r.bufRings = make(map[uint16]*BufferRing)
		}
		r.bufRings[group] = br
		r.regMu.Unlock()
		return nil
	})
	if err != nil {
		br.Close() // unregisters the group from the shards that took it
		return nil, err
	}
	return br, nil
}

// bufRingEntrySize is the size of one entry of a provided-buffer ring
// (struct io_uring_buf).
const bufRingEntrySize = 16

// Bytes returns the data a completion delivered into a provided buffer: a
// view of the buffer, valid until Release or Close. It returns nil when the
// completion used no buffer, and after Close (or the Ring's Close), which
// frees the buffers.
func (br *BufferRing) Bytes(res Result) []byte {
	bid, ok := res.BufferID()
	if !ok || res.Res <= 0 || int(res.shard) >= len(br.rings) || int(bid) >= br.Entries {
		return nil
	}
	n := min(int(res.Res), br.Size)
	// Under the lock Close frees under: the ring's C struct is read here.
	br.mu.Lock()
	defer br.mu.Unlock()
	if br.closed {
		return nil
	}
	return br.rings[res.shard].bytes(bid, n)
}

// Release hands the buffer a completion used back to the kernel.
func (br *BufferRing) Release(res Result) {
	bid, ok := res.BufferID()
	if !ok || int(res.shard) >= len(br.rings) || int(bid) >= br.Entries {
		return
	}
	br.mu.Lock()
	if !br.closed {
		br.rings[res.shard].recycle(bid)
	}
	br.mu.Unlock()
}

// recycle hands back the provided buffer of group that res used.
func (r *Ring) recycle(group uint16, res Result) {
	r.regMu.Lock()
	br := r.bufRings[group]
	r.regMu.Unlock()
	if br != nil {
		br.Release(res)
	}
}

// Close unregisters the group and frees its memory. Call it only when no
// operation uses the group any more. Ring.Close closes the buffer rings
// still registered.
func (br *BufferRing) Close() error {
	br.mu.Lock()
	defer br.mu.Unlock()
	if br.closed {
		return nil
	}
	br.closed = true
	br.r.regMu.Lock()
	if br.r.bufRings[br.Group] == br {
		delete(br.r.bufRings, br.Group)
	}
	br.r.regMu.Unlock()
	for i, b := range br.rings {
		s := br.r.shards[i]
		s.statsMu.Lock() // the move to shardFreed happens under it
		if s.state.Load() == shardFreed {
			b.free(nil)
		} else {
			b.free(s.k)
		}
		s.statsMu.Unlock()
	}
	return nil
}
