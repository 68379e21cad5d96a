// Package metrics is a small Prometheus text-format registry: counters and gauges that
// every stage updates lock-free and /metrics renders. It has no dependencies so pure
// packages can count without pulling in an HTTP stack.
package metrics

import (
	"fmt"
	"io"
	"math"
	"sort"
	"sync"
	"sync/atomic"
)

// Counter is a monotonically increasing count.
type Counter struct{ v atomic.Uint64 }

// Add adds n.
func (c *Counter) Add(n uint64) { c.v.Add(n) }

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Load returns the current value.
func (c *Counter) Load() uint64 { return c.v.Load() }

// Gauge is a value that goes up and down.
type Gauge struct{ v atomic.Uint64 }

// Set sets the value.
func (g *Gauge) Set(f float64) { g.v.Store(math.Float64bits(f)) }

// Load returns the current value.
func (g *Gauge) Load() float64 { return math.Float64frombits(g.v.Load()) }

type entry struct {
	name, help, kind string
	counter          *Counter
	gauge            *Gauge
}

// Registry holds named metrics. The zero value is ready to use.
type Registry struct {
	mu      sync.Mutex
	entries map[string]*entry
}

// Counter returns the counter called name (with labels in Prometheus syntax, e.g.
// `cop_events_total{stage="ingest"}`), creating it on first use.
func (r *Registry) Counter(name, help string) *Counter {
	e := r.get(name, help, "counter")
	return e.counter
}

// Gauge returns the gauge called name, creating it on first use.
func (r *Registry) Gauge(name, help string) *Gauge {
	e := r.get(name, help, "gauge")
	return e.gauge
}

func (r *Registry) get(name, help, kind string) *entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.entries == nil {
		r.entries = map[string]*entry{}
	}
	if e, ok := r.entries[name]; ok {
		return e
	}
	e := &entry{name: name, help: help, kind: kind, counter: &Counter{}, gauge: &Gauge{}}
	r.entries[name] = e
	return e
}

// WriteTo renders every metric in the Prometheus text format.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	names := make([]string, 0, len(r.entries))
	for n := range r.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	entries := make([]*entry, len(names))
	for i, n := range names {
		entries[i] = r.entries[n]
	}
	r.mu.Unlock()
	var total int64
	helped := map[string]bool{}
	for _, e := range entries {
		base := e.name
		for i := 0; i < len(base); i++ {
			if base[i] == '{' {
				base = base[:i]
				break
			}
		}
		if !helped[base] {
			helped[base] = true
			n, err := fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", base, e.help, base, e.kind)
			total += int64(n)
			if err != nil {
				return total, err
			}
		}
		var n int
		var err error
		if e.kind == "counter" {
			n, err = fmt.Fprintf(w, "%s %d\n", e.name, e.counter.Load())
		} else {
			n, err = fmt.Fprintf(w, "%s %g\n", e.name, e.gauge.Load())
		}
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
