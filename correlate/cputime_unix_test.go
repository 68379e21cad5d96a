//go:build unix

package correlate_test

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time the process has used (all threads, the garbage
// collector's included). On a machine shared with other work it measures the engine more
// steadily than wall time, which includes the time spent waiting for a core.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
