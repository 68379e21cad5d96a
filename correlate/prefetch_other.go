//go:build !amd64

package correlate

// prefetchAll asks the processor to bring the cache lines at addrs into its caches
// without waiting for them. Other architectures do without.
func prefetchAll(addrs []uintptr) {}
