package correlate

import (
	"math/rand/v2"
	"testing"
)

// refWindow is the obvious dedup window: a FIFO of entries and a map.
type refWindow struct {
	max  int
	fifo []refEntry
	m    map[uint64]refEntry
}

type refEntry struct {
	k      uint64
	v, aux uint32
	at     uint32
}

func (r *refWindow) pop() {
	delete(r.m, r.fifo[0].k)
	r.fifo = r.fifo[1:]
}

func (r *refWindow) expire(cutoff uint32) (ev uint64) {
	for len(r.fifo) > 0 && r.fifo[0].at < cutoff {
		r.pop()
		ev++
	}
	return ev
}

func (r *refWindow) add(k uint64, v, aux, at uint32) (ev uint64) {
	if len(r.fifo) == r.max {
		r.pop()
		ev++
	}
	e := refEntry{k: k, v: v, aux: aux, at: at}
	r.fifo = append(r.fifo, e)
	r.m[k] = e
	return ev
}

// TestWindowMatchesFIFO checks the position-stamped window against a FIFO and a map over
// random insertions, lookups and expiries, with seconds that mostly rise and sometimes
// fall, through growth and sweeps.
func TestWindowMatchesFIFO(t *testing.T) {
	for _, keysOnly := range []bool{true, false} {
		for _, max := range []int{1, 7, 100, 1000} {
			rng := rand.New(rand.NewPCG(uint64(max), 1))
			var w window
			w.init(max, keysOnly)
			ref := &refWindow{max: max, m: map[uint64]refEntry{}}
			sec := uint32(1000)
			for op := 0; op < 200_000; op++ {
				k := 1 + rng.Uint64N(uint64(3*max)) // reuse keys, so dead entries come back
				switch r := rng.IntN(100); {
				case r < 2:
					cutoff := sec - uint32(rng.IntN(20))
					if got, want := w.expire(cutoff), ref.expire(cutoff); got != want {
						t.Fatalf("max %d op %d: expire evicted %d, want %d", max, op, got, want)
					}
				case r < 10:
					if rng.IntN(4) == 0 {
						sec -= uint32(rng.IntN(3))
					} else {
						sec += uint32(rng.IntN(3))
					}
				case keysOnly && r < 50:
					_, ok := ref.m[k]
					dup, ev := w.addNew(k, sec)
					var want uint64
					if !ok {
						want = ref.add(k, 0, 0, sec)
					}
					if dup != ok || ev != want {
						t.Fatalf("max %d op %d: addNew(%d) = %v %d, want %v %d", max, op, k, dup, ev, ok, want)
					}
				case !keysOnly && r < 50:
					e, ok := ref.m[k]
					v, aux, got, free := w.lookupFree(k)
					if got != ok || ok && (v != e.v || aux != e.aux) {
						t.Fatalf("max %d op %d: lookupFree(%d) = %d %d %v, want %+v %v", max, op, k, v, aux, got, e, ok)
					}
					if !ok {
						v, aux := rng.Uint32(), rng.Uint32()
						if got, want := w.addAt(free, k, v, aux, sec), ref.add(k, v, aux, sec); got != want {
							t.Fatalf("max %d op %d: addAt evicted %d, want %d", max, op, got, want)
						}
					}
				default:
					e, ok := ref.m[k]
					if keysOnly {
						if got := w.has(k); got != ok {
							t.Fatalf("max %d op %d: has(%d) = %v, want %v", max, op, k, got, ok)
						}
					} else {
						v, aux, got := w.lookup(k)
						if got != ok || ok && (v != e.v || aux != e.aux) {
							t.Fatalf("max %d op %d: lookup(%d) = %d %d %v, want %+v %v", max, op, k, v, aux, got, e, ok)
						}
					}
					if !ok {
						v, aux := rng.Uint32(), rng.Uint32()
						if keysOnly {
							v, aux = 0, 0
						}
						if got, want := w.add(k, v, aux, sec), ref.add(k, v, aux, sec); got != want {
							t.Fatalf("max %d op %d: add evicted %d, want %d", max, op, got, want)
						}
					}
				}
				if w.n() != len(ref.fifo) {
					t.Fatalf("max %d op %d: %d live entries, want %d", max, op, w.n(), len(ref.fifo))
				}
			}
			i := 0
			w.entries(func(k uint64, v, aux, at uint32) {
				e := ref.fifo[i]
				if k != e.k || at != e.at || !keysOnly && (v != e.v || aux != e.aux) {
					t.Fatalf("max %d: entry %d = %d %d %d %d, want %+v", max, i, k, v, aux, at, e)
				}
				i++
			})
			if i != len(ref.fifo) {
				t.Fatalf("max %d: %d entries listed, want %d", max, i, len(ref.fifo))
			}
			if w.used*4 > 3*w.slots() {
				t.Fatalf("max %d: %d of %d slots used", max, w.used, w.slots())
			}
		}
	}
}
