package uring

// A request's user_data, the ID the kernel hands back in its completion:
//
//	bit 63       the ring's own request (a cancel or a link timeout):
//	             its completion only counts down inflight
//	bit 62       a msg_ring message from another ring: it belongs to no request
//	bits 54-61   the shard that holds the request
//	bits 32-53   the slot's generation, so a late completion never reaches the
//	             slot's next request
//	bits 0-31    the slot index
//
// The shard makes a request ID name its shard, so that an op naming another
// request (a cancel, a poll or timeout removal) is routed to the ring that
// holds it. No Go pointer ever reaches the kernel as a token. Only this file
// knows the layout.
const (
	tagInternal = uint64(1) << 63
	tagMessage  = uint64(1) << 62
	genBits     = 22
	genMask     = 1<<genBits - 1
	shardShift  = 54
	maxShards   = 256
)

// requestID is the user_data of slot idx at generation gen in shard.
func requestID(shard int32, gen uint32, idx int32) uint64 {
	return uint64(shard)<<shardShift | uint64(gen&genMask)<<32 | uint64(uint32(idx))
}

// shardOf returns the shard index a request ID names.
func shardOf(ud uint64) int { return int(ud >> shardShift & (maxShards - 1)) }

// slotOf returns the slot index a request ID names.
func slotOf(ud uint64) int32 { return int32(uint32(ud)) }

func isInternal(ud uint64) bool { return ud&tagInternal != 0 }
func isMessage(ud uint64) bool  { return ud&tagMessage != 0 }

// internalID marks ud as the ring's own request (a link timeout for request
// ud, or a cancel).
func internalID(ud uint64) uint64 { return ud | tagInternal }

// messageID is what a msg_ring target must see: never one of its own
// requests, whatever user_data the op was given.
func messageID(ud uint64) uint64 { return ud&^tagInternal | tagMessage }
