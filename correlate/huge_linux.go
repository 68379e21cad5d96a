package correlate

import (
	"syscall"
	"unsafe"
)

// adviseHuge asks the kernel to back the large table s with transparent huge pages (when
// THP is in madvise mode): the tables are probed at random, and with 4 KiB pages almost
// every probe of a large one also misses the TLB. Only whole 2 MiB pages inside s are
// advised; it is a hint, and errors are ignored.
func adviseHuge[T any](s []T) {
	const huge = 2 << 20
	if len(s) == 0 {
		return
	}
	n := uintptr(len(s)) * unsafe.Sizeof(s[0])
	if n < 2*huge {
		return
	}
	start := uintptr(unsafe.Pointer(&s[0]))
	lo := (start + huge - 1) &^ (huge - 1)
	hi := (start + n) &^ (huge - 1)
	if hi <= lo {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), n)
	_ = syscall.Madvise(b[lo-start:hi-start], 14) // MADV_HUGEPAGE
}
