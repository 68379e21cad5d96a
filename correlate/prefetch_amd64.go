package correlate

// prefetchAll asks the processor to bring the cache lines at addrs into its caches
// without waiting for them: unlike loads, prefetches do not hold back the instructions
// after them while the lines are on their way. A prefetch never faults.
//
//go:noescape
func prefetchAll(addrs []uintptr)
