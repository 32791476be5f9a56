//go:build unix

package loopload

import (
	"math/rand/v2"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring/loop"
)

// PreadReads is Reads with each read a pread(2) made by the loop itself,
// batch after batch of 32 from a loop callback that queues itself again
// (Loop.Run) between batches: the loop's alternative to the ring for
// files where io_uring hands a read to an io-wq worker (tmpfs, overlayfs).
// While a read runs, the loop runs nothing else.
func PreadReads(g *loop.Group, fd int, size int64) (*Load, error) {
	const batch = 32
	blocks := size / 4096
	ld := &Load{g: g}
	for li, l := range g.Loops() {
		c := new(counter)
		ld.per = append(ld.per, c)
		mem := make([]byte, 2*4096)
		skip := int((4096 - uintptr(unsafe.Pointer(&mem[0]))%4096) % 4096)
		buf := mem[skip : skip+4096]
		rng := rand.New(rand.NewPCG(uint64(li), 7))
		ld.wg.Add(1)
		var step func()
		step = func() {
			for range batch {
				if _, err := unix.Pread(fd, buf, rng.Int64N(blocks)*4096); err != nil {
					ld.fail(err)
					break
				}
				c.n.Add(1)
			}
			if ld.stopd.Load() || l.Run(step) != nil {
				ld.wg.Done()
			}
		}
		if err := l.Run(step); err != nil {
			ld.wg.Done()
			ld.Stop()
			return nil, err
		}
	}
	return ld, nil
}
