package bench

// What the benchmarks read of their own process: memory, CPU time, heap profiles.

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type memSample struct {
	heap, stack uint64
	rss         int64
	goroutines  int
}

func memNow() memSample {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{heap: ms.HeapInuse, stack: ms.StackInuse, rss: vmRSS(), goroutines: runtime.NumGoroutine()}
}

// vmRSS returns the resident set size from /proc/self/status, 0 where there is none.
func vmRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n << 10
			}
		}
	}
	return 0
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// serverSideMemory splits the sampled heap profile: bytes in use that were allocated on a
// stack through net/http's server or the api package (the server's half of each
// connection), and how many of the new goroutines are the server's (those not running the
// bench client's read loop).
func serverSideMemory(newGoroutines int) (heap, goroutines float64) {
	runtime.GC()
	var recs []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, false)
	for {
		recs = make([]runtime.MemProfileRecord, n+64)
		var ok bool
		if n, ok = runtime.MemProfile(recs, false); ok {
			recs = recs[:n]
			break
		}
	}
	rate := float64(runtime.MemProfileRate)
	for _, r := range recs {
		if r.InUseObjects() == 0 {
			continue
		}
		server := false
		frames := runtime.CallersFrames(r.Stack())
		for {
			f, more := frames.Next()
			if strings.Contains(f.Function, "net/http.(*conn)") || strings.Contains(f.Function, "cop/api.") ||
				strings.Contains(f.Function, "net/http.(*Server)") {
				server = true
				break
			}
			if !more {
				break
			}
		}
		if !server {
			continue
		}
		// Undo the sampling as pprof does: each sampled object stood for 1/(1−e^(−size/rate)).
		size := float64(r.InUseBytes()) / float64(r.InUseObjects())
		heap += float64(r.InUseBytes()) / (1 - math.Exp(-size/rate))
	}
	clientG := 0
	buf := make([]byte, 64<<20)
	buf = buf[:runtime.Stack(buf, true)]
	clientG = bytes.Count(buf, []byte("(*benchClient).read"))
	return heap, float64(newGoroutines - clientG)
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cannot create heap profile: %w", err)
	}
	defer f.Close()
	return pprof.Lookup("heap").WriteTo(f, 0)
}
