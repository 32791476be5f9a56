// Package loop runs event loops that own their io_uring: each loop is one
// goroutine locked to its OS thread, the only one that submits to and waits
// on its ring (SINGLE_ISSUER, DEFER_TASKRUN), and it runs every callback of
// its connections and ops where the completion is reaped, one io_uring_enter
// per iteration.
//
// The shape is gnet's: a Handler gets open, data and close events, and
// writes to a Conn. Received bytes come from a provided-buffer ring by
// multishot recv, without a copy; they are valid until the handler returns.
// Writes are queued and sent together in the loop's next enter. A
// connection whose unsent bytes pass the high-water mark stops receiving
// until they drain, so a peer that never reads holds bounded memory.
//
// Any ops.Op can be submitted from a loop callback (Loop.Submit), its
// completion delivered as a callback on the same loop. Other goroutines
// reach a loop with Loop.Run, Conn.Run and Conn.AsyncWrite; the loop is
// woken (an eventfd) only when it sleeps.
//
// Where io_uring is unavailable (a kernel below uring.FloorVersion, seccomp,
// another OS, CGO_ENABLED=0) or with WithStd, the same handlers run on std
// net, one goroutine per connection; Group.Fallback says why.
//
// Callbacks of one connection never run at once. On the ring every
// callback of a loop runs on its one goroutine, so a callback may write to
// or close another connection of its loop; on the fallback the callbacks of
// different connections may run in parallel, so state shared between
// connections needs a lock, and another connection is reached with its Run.
//
// A callback must not block: it holds up every connection of its loop. On
// the ring, addresses are read from the socket when asked for (an idle
// connection keeps none), so they are nil once the socket is closed.
package loop
