package uring

import (
	"errors"
	"runtime"
	"sync"
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
				for _, s := range r.shards[:i] {
					s.k.unregisterBuffers()
				}
				rb.pin.Unpin()
				return err
			}
		}
		r.regBufs = rb
		return nil
	})
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
func (r *Ring) NewBufferRing(group uint16, entries, size int) (*BufferRing, error) {
	if entries <= 0 || entries&(entries-1) != 0 || entries > 32768 || size <= 0 {
		return nil, errors.New("uring: NewBufferRing: entries must be a power of two up to 32768, size positive")
	}
	br := &BufferRing{r: r, Group: group, Entries: entries, Size: size}
	err := r.live(func() error {
		for _, s := range r.shards {
			b, err := s.k.newBufRing(entries, size, group)
			if err != nil {
				return err
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
		br.Close()
		return nil, err
	}
	return br, nil
}

// Bytes returns the data a completion delivered into a provided buffer: a
// view of the buffer, valid until Release. It returns nil when the
// completion used no buffer.
func (br *BufferRing) Bytes(res Result) []byte {
	bid, ok := res.BufferID()
	if !ok || res.Res <= 0 || int(res.shard) >= len(br.rings) || int(bid) >= br.Entries {
		return nil
	}
	n := min(int(res.Res), br.Size)
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
// operation uses the group any more.
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
