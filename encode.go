package uring

import (
	"unsafe"

	"github.com/goaio/uring/ops"
)

// sqe mirrors struct io_uring_sqe (uring.h asserts the layout). Staged SQEs
// are written by Go into C memory, then copied into the SQ by uring_submit.
type sqe struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	opFlags     uint32
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFdIn  int32
	addr3       uint64
	_           uint64
}

// cqe mirrors uring_cqe_t in uring.h.
type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

const (
	sqeSize     = int(unsafe.Sizeof(sqe{}))
	cqeSize     = int(unsafe.Sizeof(cqe{}))
	scratchSize = 320
	inlineIovs  = 4
	sockaddrMax = 112 // sizeof(struct sockaddr_storage) minus padding Linux never reads
)

// scratchArea is per-slot C memory for arguments the kernel reads by address:
// it lives as long as the slot, so it outlives the request. Pointers in it are
// stored as integers: the memory they name is pinned or C memory.
type scratchArea struct {
	ts  [2]int64 // struct __kernel_timespec
	lts [2]int64 // the linked timeout's
	sa  [sockaddrMax]byte
	msg msghdr
	iov [inlineIovs]iovec
}

type msghdr struct {
	name       uint64
	namelen    uint32
	_          uint32
	iov        uint64
	iovlen     uint64
	control    uint64
	controllen uint64
	flags      int32
	_          int32
}

type iovec struct {
	base uint64
	len  uint64
}

var _ [scratchSize - unsafe.Sizeof(scratchArea{})]byte // scratchArea fits its stride

func scratchAddr(ts *[2]int64) uint64 { return uint64(uintptr(unsafe.Pointer(ts))) }

func (s *shard) scratchAt(sl *slot) *scratchArea {
	return (*scratchArea)(unsafe.Add(s.scratch, int(sl.idx)*scratchSize))
}

// prepare encodes op for slot sl into e: pins the Go memory it names and
// builds the C-memory arguments it needs.
func (s *shard) prepare(e *sqe, sl *slot, op *ops.Op) error {
	return encodeOp(e, sl, s.scratchAt(sl), s.userData(sl), op)
}

// encodeOp encodes op as request ud into e, for slot sl with scratch sc:
// the one encoder of the shared rings and the LocalRing.
func encodeOp(e *sqe, sl *slot, sc *scratchArea, ud uint64, op *ops.Op) error {
	*e = sqe{
		opcode:      uint8(op.Opcode),
		flags:       op.Flags &^ ops.FlagCQESkip, // every request must complete visibly
		ioprio:      op.IoPrio,
		fd:          op.Fd,
		off:         op.Off,
		addr:        op.AddrVal,
		len:         op.Len,
		opFlags:     op.OpFlags,
		userData:    ud,
		bufIndex:    op.BufIndex,
		personality: op.Personality,
		spliceFdIn:  op.SpliceFdIn,
	}
	if op.Addr != nil {
		sl.pinPtr(op.Addr)
		e.addr = uint64(uintptr(op.Addr))
		if raceEnabled {
			sl.raceAddr, sl.raceLen, sl.raceWrite = op.Addr, int(op.Len), kernelWrites(op.Opcode)
		}
	}
	if op.Addr2 != nil {
		sl.pinPtr(op.Addr2)
		if op.Kind != ops.ArgMsghdr { // there Addr2 is the msghdr's name buffer
			e.off = uint64(uintptr(op.Addr2))
		}
	}
	if op.Addr3 != nil {
		sl.pinPtr(op.Addr3)
		e.addr3 = uint64(uintptr(op.Addr3))
	}
	if op.Str != [3]string{} {
		placeStrings(e, sl, op)
	}
	if op.Opcode == ops.OpMsgRing && op.AddrVal == ops.MsgData {
		// Whatever user_data the Op names, the target must see a message.
		e.off = messageID(e.off)
	}
	sl.kind = op.Kind
	if op.Kind == ops.ArgNone {
		return nil
	}
	switch op.Kind {
	case ops.ArgTimespec:
		sc.ts[0], sc.ts[1] = op.Timespec/1e9, op.Timespec%1e9
		e.addr = scratchAddr(&sc.ts)
	case ops.ArgIovec:
		e.addr = buildIovecs(sl, sc, op.Bufs)
		e.len = uint32(len(op.Bufs))
	case ops.ArgSockaddr:
		n, err := encodeSockaddr(op.Sockaddr, sc.sa[:])
		if err != nil {
			return err
		}
		e.addr = uint64(uintptr(unsafe.Pointer(&sc.sa[0])))
		e.off = uint64(n)
	case ops.ArgMsghdr:
		m := &sc.msg
		*m = msghdr{}
		switch {
		case op.Sockaddr != nil:
			n, err := encodeSockaddr(op.Sockaddr, sc.sa[:])
			if err != nil {
				return err
			}
			m.name, m.namelen = uint64(uintptr(unsafe.Pointer(&sc.sa[0]))), uint32(n)
		case op.Addr2 != nil:
			m.name, m.namelen = uint64(uintptr(op.Addr2)), sockaddrMax
		}
		if len(op.Bufs) > 0 {
			m.iov = buildIovecs(sl, sc, op.Bufs)
			m.iovlen = uint64(len(op.Bufs))
		}
		if len(op.OOB) > 0 {
			p := unsafe.Pointer(unsafe.SliceData(op.OOB))
			sl.pinPtr(p)
			m.control, m.controllen = uint64(uintptr(p)), uint64(len(op.OOB))
		}
		e.addr = uint64(uintptr(unsafe.Pointer(m)))
	}
	return nil
}

// kernelWrites reports whether op's sqe.addr buffer is written by the kernel
// (rather than read), for the race detector.
func kernelWrites(code ops.Opcode) bool {
	switch code {
	case ops.OpRead, ops.OpReadFixed, ops.OpRecv:
		return true
	}
	return false
}

// buildIovecs lays out bufs as a struct iovec array: in the slot's scratch
// when short, else in C memory freed with the request. Each buffer is pinned.
func buildIovecs(sl *slot, sc *scratchArea, bufs [][]byte) uint64 {
	var iov []iovec
	if len(bufs) <= inlineIovs {
		iov = sc.iov[:len(bufs)]
	} else {
		p := cAlloc(len(bufs) * int(unsafe.Sizeof(iovec{})))
		sl.addCMem(p)
		iov = unsafe.Slice((*iovec)(p), len(bufs))
	}
	for i, b := range bufs {
		iov[i] = iovec{len: uint64(len(b))}
		if len(b) > 0 {
			p := unsafe.Pointer(unsafe.SliceData(b))
			sl.pinPtr(p)
			iov[i].base = uint64(uintptr(p))
		}
	}
	if len(iov) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&iov[0])))
}

// placeStrings copies op.Str into one C allocation as NUL-terminated strings
// and points sqe.addr, sqe.off and sqe.addr3 at them.
func placeStrings(e *sqe, sl *slot, op *ops.Op) {
	total := 0
	for _, str := range op.Str {
		if str != "" {
			total += len(str) + 1
		}
	}
	p := cAlloc(total)
	sl.addCMem(p)
	buf := unsafe.Slice((*byte)(p), total)
	at := 0
	for i, str := range op.Str {
		if str == "" {
			continue
		}
		copy(buf[at:], str)
		buf[at+len(str)] = 0
		addr := uint64(uintptr(unsafe.Pointer(&buf[at])))
		switch i {
		case 0:
			e.addr = addr
		case 1:
			e.off = addr
		case 2:
			e.addr3 = addr
		}
		at += len(str) + 1
	}
}

// addCMem records C memory to free when the request ends. A request needs at
// most two blocks (strings and iovecs); they are chained through a header.
func (sl *slot) addCMem(p unsafe.Pointer) {
	if sl.cmem == nil {
		sl.cmem = p
		return
	}
	if sl.cmem2 == nil {
		sl.cmem2 = p
		return
	}
	panic("uring: internal error: third C allocation for one request")
}
