package uring

import (
	"context"
	"errors"
	"syscall"

	"github.com/goaio/uring/ops"
)

// A Ring is one set of requests and one file table, though each shard is an
// io_uring instance of its own. Ops that name what lives in one shard go to
// that shard, whichever goroutine submits them:
//   - an op naming another request by its ID (AsyncCancel, PollRemove,
//     TimeoutRemove/Update) goes to the shard the ID names;
//   - an op that uses the registered file table (FlagFixedFile), or creates or
//     closes a direct descriptor, goes to the first shard, which alone holds
//     the table;
//   - a cancel by fd or of any request (CancelFd, CancelAny) runs on every shard.
// Everything else runs on the caller's shard (pick).

type route uint8

const (
	routeLocal  route = iota // the caller's shard
	routeTable               // shard 0, the file table's
	routeTarget              // the shard a request ID names
	routeEvery               // every shard in turn
)

var (
	errBatchShards = errors.New("uring: DoBatch: its ops name requests on different shards; submit them separately")
	errBatchEvery  = errors.New("uring: DoBatch: a cancel by fd or of any request spans every shard; use Do")
)

// routeOf says where op must run, and for routeTarget the ID it names.
func routeOf(op *ops.Op) (route, uint64) {
	if op.Flags&ops.FlagFixedFile != 0 {
		return routeTable, 0
	}
	switch op.Opcode {
	case ops.OpAsyncCancel:
		switch {
		case op.OpFlags&ops.CancelFdFixed != 0:
			return routeTable, 0
		case op.OpFlags&(ops.CancelFd|ops.CancelAny) != 0:
			return routeEvery, 0
		}
		return routeTarget, op.AddrVal
	case ops.OpPollRemove, ops.OpTimeoutRemove:
		return routeTarget, op.AddrVal
	case ops.OpOpenat, ops.OpOpenat2, ops.OpAccept, ops.OpSocket, ops.OpClose:
		if op.SpliceFdIn != 0 { // file_index: a direct descriptor
			return routeTable, 0
		}
	case ops.OpFilesUpdate, ops.OpFixedFdInstall:
		return routeTable, 0
	case ops.OpSplice, ops.OpTee:
		if op.OpFlags&ops.SpliceFdInFixed != 0 {
			return routeTable, 0
		}
	case ops.OpMsgRing:
		if op.AddrVal != ops.MsgData { // MSG_SEND_FD passes a fixed file
			return routeTable, 0
		}
	}
	return routeLocal, 0
}

// shardFor returns the shard op runs on, or nil for an op that must run on
// every shard.
func (r *Ring) shardFor(op *ops.Op) *shard {
	if len(r.shards) == 1 {
		return r.shards[0]
	}
	k, id := routeOf(op)
	if s, routed := r.routed(k, id); routed {
		return s
	}
	return r.pick()
}

// routed returns the shard route k (with target id) names, and false for
// routeLocal and for an ID that names no shard of r: the caller picks.
func (r *Ring) routed(k route, id uint64) (*shard, bool) {
	switch k {
	case routeTable:
		return r.shards[0], true
	case routeTarget:
		if i := shardOf(id); i < len(r.shards) {
			return r.shards[i], true
		}
	case routeEvery:
		return nil, true
	}
	return nil, false
}

// batchShard returns the one shard a batch can run on: the shard its routed
// ops name, or the caller's.
func (r *Ring) batchShard(batch []ops.Op) (*shard, error) {
	if len(r.shards) == 1 {
		return r.shards[0], nil
	}
	var s *shard
	for i := range batch {
		t, routed := r.routed(routeOf(&batch[i]))
		switch {
		case !routed:
			continue
		case t == nil:
			return nil, errBatchEvery
		case s != nil && t != s:
			return nil, errBatchShards
		}
		s = t
	}
	if s == nil {
		s = r.pick()
	}
	return s, nil
}

// doEvery runs a cancel by fd or of any request on every shard. With
// CancelAll the result is the number cancelled over all shards; without, the
// first shard that found a match answers. ENOENT means none matched anywhere.
func (r *Ring) doEvery(ctx context.Context, op *ops.Op) (Result, error) {
	all := op.OpFlags&ops.CancelAll != 0
	n, found := 0, false
	for _, s := range r.shards {
		if err := s.admit(op, false); err != nil {
			return Result{}, err
		}
		res, err := s.do(ctx, op)
		if errors.Is(err, syscall.ENOENT) {
			continue
		}
		if err != nil {
			return res, err
		}
		if !all {
			return res, nil
		}
		found = true
		n += res.N()
	}
	if !found {
		return Result{Res: -int32(syscall.ENOENT)}, syscall.ENOENT
	}
	return Result{Res: int32(n)}, nil
}
