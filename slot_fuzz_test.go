package uring

import (
	"context"
	"testing"
)

// FuzzSlotTable drives a shard's slot table with an arbitrary sequence of
// acquire, acquireN and release calls and checks that no slot is handed out
// twice, that every acquire moves the slot's generation on, and that the free
// list and the busy set always add up to the table.
func FuzzSlotTable(f *testing.F) {
	f.Add([]byte{0, 0, 1, 2, 0, 3, 1, 1})
	f.Add([]byte{2, 2, 2, 2, 1, 1, 1, 1, 0, 0})
	f.Fuzz(func(t *testing.T, script []byte) {
		if Available() != nil {
			t.Skip("io_uring unavailable:", Available())
		}
		r, err := New(WithEntries(4), WithMaxInFlight(8))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		s := r.shards[0]
		held := map[int32]uint32{} // slot -> generation when taken
		var order []int32
		for _, b := range script {
			switch b % 3 {
			case 0: // acquire one, unless that would block
				if len(held) == s.slots.n {
					continue
				}
				idx, sl, err := s.acquire(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if _, dup := held[idx]; dup {
					t.Fatalf("slot %d handed out twice", idx)
				}
				if sl.idx != idx {
					t.Fatalf("slot %d reports index %d", idx, sl.idx)
				}
				held[idx] = sl.gen.Load()
				order = append(order, idx)
			case 1: // release the oldest held
				if len(order) == 0 {
					continue
				}
				idx := order[0]
				order = order[1:]
				delete(held, idx)
				s.release(idx)
			case 2: // acquire several at once
				n := int(b/3)%3 + 1
				if len(held)+n > s.slots.n {
					continue
				}
				idx := make([]int32, n)
				if err := s.acquireN(context.Background(), idx); err != nil {
					t.Fatal(err)
				}
				for _, i := range idx {
					if _, dup := held[i]; dup {
						t.Fatalf("slot %d handed out twice", i)
					}
					held[i] = s.slots.get(i).gen.Load()
					order = append(order, i)
				}
			}
			free := int(s.free.nfree.Load())
			if free+len(held) != s.slots.n {
				t.Fatalf("%d free + %d held != %d slots", free, len(held), s.slots.n)
			}
		}
		// A slot taken again gets a new generation, so a stale completion for
		// its previous request can never match it.
		for idx, gen := range held {
			s.release(idx)
			i2, sl, err := s.acquire(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if i2 == idx && sl.gen.Load() == gen {
				t.Fatalf("slot %d reused with the same generation %d", idx, gen)
			}
			s.release(i2)
		}
	})
}
