package synth

import (
	"math/rand/v2"
	"strconv"
	"time"
	"unsafe"

	"github.com/cidcc/cop/internal/event"
)

// Stream generates a reproducible synthetic event stream for the engine's benchmarks (the
// demo's feeds are Generator's, ground truth is internal/groundtruth's): ~10 contributors,
// 1–5 observables per event drawn with Zipf-distributed popularity from a universe of a
// fixed size, and 20% duplicates (half redeliveries, half content re-sent under a new id).
//
// Events are built in reused buffers: an event and its strings are valid until the next
// call on the Stream. The engine copies what it keeps, so it can be fed directly.
type Stream struct {
	seed     uint64
	universe int
	created  int    // observables introduced so far by Prefill
	next     uint64 // next event number
	src      splitmix
	rng      *rand.Rand
	zipf     *rand.Zipf
	buf      []byte
	batch    []event.Event
}

// StreamContributors are the contributors Stream uses.
var StreamContributors = []string{"MILCERT-DE", "MILCERT-FR", "CSIRT-IT", "CSIRT-ES", "CSIRT-PL",
	"CERT-EU", "ENISA", "CSIRT-EE", "MILCERT-NL", "NCIRC"}

var (
	genSectors    = []string{"energy", "telecom", "transport", "health", "banking", "submarine-cable", "defence", "public-administration"}
	genCountries  = []string{"EE", "LV", "LT", "PL", "DE", "FR", "IT", "ES", "FI", "SE", "GR", "CY", "BA", "UA"}
	genTechniques = []string{"T1566", "T1190", "T1071.001", "T1486", "T1498", "T1078", "T1059.001", "T1105"}
	genCategories = []string{"malicious-code/c2-server", "availability/ddos", "intrusions/system-compromise", "fraud/phishing", "intrusion-attempts/exploit"}
	genTitles     = []string{"C2 beaconing observed", "DDoS against operator", "Compromised host", "Phishing wave", "Exploitation attempts"}
)

// StreamBatch is the batch size the engine's benchmarks draw from a Stream: close to the
// pipeline's (up to 5,000 events per batch).
const StreamBatch = 4096

// StreamStart is the observed time of the first generated event.
var StreamStart = time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)

type splitmix struct{ s uint64 }

func (s *splitmix) Uint64() uint64 {
	s.s += 0x9e3779b97f4a7c15
	return fmix(s.s)
}

// fmix is SplitMix64's finaliser (the engine's too: the stream is the one its benchmarks
// have always been measured on).
func fmix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// NewStream returns a generator over a universe of the given number of observables.
func NewStream(seed uint64, universe int) *Stream {
	g := &Stream{seed: seed, universe: max(universe, 1)}
	g.rng = rand.New(&g.src)
	g.zipf = rand.NewZipf(g.rng, 1.1, 4, uint64(g.universe-1))
	return g
}

// Prefilled reports whether Prefill has introduced every observable of the universe.
func (g *Stream) Prefilled() bool { return g.created >= g.universe }

// Time returns the observed time of the last generated event, a natural processing time.
func (g *Stream) Time() time.Time { return StreamStart.Add(time.Duration(g.next) * time.Millisecond) }

// Prefill returns up to n events that introduce observables not seen before (each also
// linking, half the time, to one already introduced), until the universe is covered.
func (g *Stream) Prefill(n int) []event.Event {
	g.reset(n)
	for i := 0; i < n && g.created < g.universe; i++ {
		num := g.next
		g.next++
		e := g.slot()
		g.content(e, num, num, true)
	}
	return g.batch
}

// Batch returns n steady-state events: observables drawn from the whole universe by
// popularity, 10% redeliveries and 10% content duplicates of recent events.
func (g *Stream) Batch(n int) []event.Event {
	g.reset(n)
	for i := 0; i < n; i++ {
		num := g.next
		g.next++
		content := num
		g.src.s = g.seed ^ fmix(num+0x1234)
		switch r := g.src.Uint64() % 10; {
		case r == 0 && num > 0:
			num = num - 1 - g.src.Uint64()%min(num, 1000) // redelivery
			content = num
		case r == 1 && num > 0:
			content = num - 1 - g.src.Uint64()%min(num, 1000) // same content, new id
		}
		g.content(g.slot(), num, content, false)
	}
	return g.batch
}

// Reserve sizes the generator's buffers for batches of up to n events, so that a later
// measurement of heap growth does not count them.
func (g *Stream) Reserve(n int) {
	g.reset(n)
	for range n {
		e := g.slot()
		e.Observables = make([]event.Observable, 0, 5)
	}
	g.batch = g.batch[:0]
}

func (g *Stream) reset(n int) {
	g.batch = g.batch[:0]
	if need := n * 512; cap(g.buf) < need {
		g.buf = make([]byte, 0, need)
	}
	g.buf = g.buf[:0]
}

func (g *Stream) slot() *event.Event {
	n := len(g.batch)
	if n < cap(g.batch) {
		g.batch = g.batch[:n+1]
	} else {
		g.batch = append(g.batch, event.Event{})
	}
	e := &g.batch[n]
	obs := e.Observables[:0]
	*e = event.Event{Observables: obs}
	return e
}

// str appends s-building f to the buffer and returns it as a string aliasing the buffer.
func (g *Stream) str(f func([]byte) []byte) string {
	start := len(g.buf)
	g.buf = f(g.buf)
	if len(g.buf) == start {
		return ""
	}
	return unsafe.String(&g.buf[start], len(g.buf)-start)
}

// content fills e as event number num carrying the content of event number content.
func (g *Stream) content(e *event.Event, num, content uint64, prefill bool) {
	g.src.s = g.seed ^ fmix(content)
	r := &g.src
	ci := r.Uint64() % uint64(len(StreamContributors))
	e.Contributor = StreamContributors[ci]
	e.ID = g.str(func(b []byte) []byte { // 32 hex digits, like event.NewID
		return appendHex(appendHex(b, fmix(num^g.seed)), fmix(num+g.seed))
	})
	e.SourceID = e.ID
	e.Kind = event.Kind(1 + r.Uint64()%4)
	e.Severity = event.Severity(1 + r.Uint64()%5)
	e.Confidence = uint8(40 + r.Uint64()%61)
	e.TLP = event.TLP(1 + r.Uint64()%3)
	e.ObservedAt = StreamStart.Add(time.Duration(content) * time.Millisecond)
	e.ReceivedAt = e.ObservedAt
	k := r.Uint64() % uint64(len(genCategories))
	e.Category, e.Title = genCategories[k], genTitles[k]
	s := r.Uint64() % uint64(len(genSectors))
	e.Sectors = genSectors[s : s+1]
	c := r.Uint64() % uint64(len(genCountries)-1)
	e.Countries = genCountries[c : c+1+r.Uint64()%2]
	if t := r.Uint64() % uint64(len(genTechniques)+4); t < uint64(len(genTechniques)) {
		e.Techniques = genTechniques[t : t+1]
	}
	nobs := 1 + int(r.Uint64()%5)
	if prefill {
		if g.created > 0 && r.Uint64()%2 == 0 {
			e.Observables = g.appendObs(e.Observables, g.zipf.Uint64()%uint64(g.created))
			nobs--
		}
		for ; nobs > 0 && g.created < g.universe; nobs-- {
			e.Observables = g.appendObs(e.Observables, uint64(g.created))
			g.created++
		}
		return
	}
	for ; nobs > 0; nobs-- {
		e.Observables = g.appendObs(e.Observables, g.zipf.Uint64())
	}
}

// appendObs appends the observable of popularity rank rank. Ranks are scattered over the
// universe so that popular observables are not neighbours in the engine's slabs.
func (g *Stream) appendObs(obs []event.Observable, rank uint64) []event.Observable {
	u := uint64(g.universe)
	i := rank // during prefill, ranks are creation order
	if g.Prefilled() {
		i = (rank*0x9E3779B1 + 7) % u
	}
	v := fmix(i ^ g.seed)
	var o event.Observable
	switch i % 4 {
	case 0:
		o.Type = event.ObsIPv4
		o.Value = g.str(func(b []byte) []byte {
			b = strconv.AppendUint(b, 10+i>>24, 10)
			b = append(b, '.')
			b = strconv.AppendUint(b, i>>16&255, 10)
			b = append(b, '.')
			b = strconv.AppendUint(b, i>>8&255, 10)
			b = append(b, '.')
			return strconv.AppendUint(b, i&255, 10)
		})
	case 1:
		o.Type = event.ObsDomain
		o.Value = g.str(func(b []byte) []byte {
			b = strconv.AppendUint(append(b, 'd'), i, 36)
			return append(b, ".example.net"...)
		})
	case 2:
		o.Type = event.ObsSHA256
		o.Value = g.str(func(b []byte) []byte {
			for k := 0; k < 4; k++ {
				x := fmix(v + uint64(k))
				for j := 0; j < 16; j++ {
					b = append(b, "0123456789abcdef"[x>>(4*j)&15])
				}
			}
			return b
		})
	default:
		o.Type = event.ObsURL
		o.Value = g.str(func(b []byte) []byte {
			b = strconv.AppendUint(append(b, "http://u"...), i, 36)
			return append(b, ".example.org/p"...)
		})
	}
	for _, x := range obs {
		if x == o {
			return obs
		}
	}
	return append(obs, o)
}

func appendHex(b []byte, x uint64) []byte {
	for i := 60; i >= 0; i -= 4 {
		b = append(b, "0123456789abcdef"[x>>uint(i)&15])
	}
	return b
}
