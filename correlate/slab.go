package correlate

// slab is a growable array of T stored in fixed-size pages: growing never copies what it
// holds (a slice grown by append copies each element about four times on average, and
// keeps up to a quarter of its capacity unused), and a pointer into it stays valid.
type slab[T any] struct {
	pages [][]T
	n     int
}

const (
	slabPageBits = 10
	slabPageSize = 1 << slabPageBits
)

func (s *slab[T]) at(i uint32) *T {
	return &s.pages[i>>slabPageBits][i&(slabPageSize-1)]
}

func (s *slab[T]) len() int { return s.n }

// add appends v and returns its index.
func (s *slab[T]) add(v T) uint32 {
	if s.n == len(s.pages)*slabPageSize {
		s.pages = append(s.pages, make([]T, slabPageSize))
	}
	i := uint32(s.n)
	s.n++
	*s.at(i) = v
	return i
}

// bytes is the memory the slab holds.
func (s *slab[T]) size(elem uintptr) uintptr {
	return uintptr(len(s.pages)) * slabPageSize * elem
}
