package uring

import (
	"context"
	"syscall"

	"github.com/goaio/uring/ops"
)

// discard releases what a completion the consumer will never see holds, so
// that breaking out of a Stream loses nothing: an accepted connection is
// closed (its client sees EOF) and a provided buffer goes back to its ring.
func (r *Ring) discard(s *shard, op *ops.Op, res Result) {
	if res.Res < 0 {
		return
	}
	if _, ok := res.BufferID(); ok {
		r.recycle(op.BufIndex, res)
	}
	if op.Opcode != ops.OpAccept {
		return
	}
	if op.SpliceFdIn != 0 { // a direct descriptor: Res is its table slot
		c := ops.CloseFixed(int(res.Res))
		s.do(context.Background(), &c)
		return
	}
	syscall.Close(int(res.Res))
}
