package uring

import (
	"context"

	"github.com/goaio/uring/ops"
)

// Test-only views of the dispatcher's state.

// SlotsInUse returns how many request slots are taken, over all shards.
func SlotsInUse(r *Ring) int {
	n := 0
	for _, s := range r.shards {
		n += s.slots.n - int(s.free.nfree.Load())
	}
	return n
}

// HoldCQ blocks every completer of r's shards from reaping until the returned
// function is called: completions pile up in the CQ and then overflow.
func HoldCQ(r *Ring) (release func()) {
	for _, s := range r.shards {
		s.cqMu.Lock()
	}
	return func() {
		for _, s := range r.shards {
			s.unlockCQ() // and reap what a completer left to the holder
		}
	}
}

// DoOnShard runs op on r's shard i, whichever goroutine calls: a test can
// then look at every shard's kernel ring.
func DoOnShard(ctx context.Context, r *Ring, i int, op ops.Op) (Result, error) {
	return r.shards[i].do(ctx, &op)
}

// BufferRingsRegistered is how many buffer rings r has registered and not
// closed.
func BufferRingsRegistered(r *Ring) int {
	r.regMu.Lock()
	defer r.regMu.Unlock()
	return len(r.bufRings)
}
