package uring

// A completer reaps the completions that no submitter reaped inline: one
// per shard. Whatever it is, it reaps under s.cqMu (reapOrDefer) and hands
// the CQEs to s.dispatch. The one in use is the poller (poller_linux.go);
// docs/design.md has the designs that were measured against it.
type completer interface {
	// stop ends the completer once no request is in flight (Close).
	stop()
	// wakeups is how many times it was woken to reap.
	wakeups() uint64
	// watch: an enter that reaped inline (with the eventfd silenced) left
	// requests in flight; the completer must find their completions even
	// if one of them signalled nothing (poller.watch).
	watch()
}
