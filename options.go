package uring

import (
	"runtime"
	"time"
)

// Option configures New. The zero configuration works: New() gives a ring with
// one shard of 256 SQ entries per GOMAXPROCS. Where the kernel charges rings
// to a small RLIMIT_MEMLOCK (a user without CAP_IPC_LOCK), sizes left to the
// default are fitted to it: fewer shards, then fewer entries (down to 16).
// Sizes set with WithShards and WithEntries are kept, or New fails.
type Option func(*config)

type config struct {
	entries     uint32
	entriesSet  bool // by WithEntries: kept, not fitted to RLIMIT_MEMLOCK
	cqEntries   uint32
	maxInflight int
	shards      int
	shardsSet   bool // by WithShards: kept, not fitted to RLIMIT_MEMLOCK
	sqPoll      bool
	sqIdle      time.Duration
	sqCPU       int
	attach      *Ring
}

func defaultConfig() config {
	return config{entries: 256, sqCPU: -1}
}

// WithEntries sets the submission queue size of each shard (rounded up to a
// power of two by the kernel). It is also the largest batch.
func WithEntries(n uint32) Option { return func(c *config) { c.entries, c.entriesSet = n, true } }

// WithCQEntries sets the completion queue size of each shard (default: twice
// the SQ size).
func WithCQEntries(n uint32) Option { return func(c *config) { c.cqEntries = n } }

// WithMaxInFlight bounds the requests each shard keeps in flight (default: the
// CQ size). Callers beyond it wait for a free slot. Multishot requests, link
// timeouts and cancellations can still post more completions than the CQ
// holds: the kernel keeps the extra ones (IORING_FEAT_NODROP) and the ring
// flushes them.
func WithMaxInFlight(n int) Option { return func(c *config) { c.maxInflight = n } }

// WithShards sets how many io_uring instances the Ring spreads work over
// (default: GOMAXPROCS at New). Each goroutine keeps to one shard, so shards
// scale submission and completion with cores. What a ring holds is per
// shard: registered buffers are registered (and, for a user without
// CAP_IPC_LOCK, charged to RLIMIT_MEMLOCK) once per shard, and each shard
// has its own buffer rings; the fixed-file table lives in the first shard
// only (see RegisterFiles). WithShards(1) gives one io_uring instance.
func WithShards(n int) Option { return func(c *config) { c.shards, c.shardsSet = n, true } }

// WithSQPoll makes the kernel poll the submission queue from a thread of its
// own (IORING_SETUP_SQPOLL), which sleeps after idle without work. cpu pins
// that thread to a CPU; -1 leaves it free.
func WithSQPoll(idle time.Duration, cpu int) Option {
	return func(c *config) { c.sqPoll, c.sqIdle, c.sqCPU = true, idle, cpu }
}

// WithAttachWQ shares other's async worker pool (IORING_SETUP_ATTACH_WQ)
// instead of creating one per ring.
func WithAttachWQ(other *Ring) Option { return func(c *config) { c.attach = other } }

// Single-issuer and defer-taskrun (IORING_SETUP_SINGLE_ISSUER, _DEFER_TASKRUN)
// are not offered: they require every submission to come from one OS thread,
// and a Ring is used from any goroutine on any thread.

func (c *config) normalize() {
	if c.entries == 0 {
		c.entries = 256
	}
	if c.shards <= 0 {
		c.shards = runtimeProcs()
	}
	if c.shards > 4*runtime.GOMAXPROCS(0) && c.shards > 64 {
		c.shards = 64
	}
	c.shards = min(c.shards, maxShards) // request IDs have 8 bits for the shard
}
