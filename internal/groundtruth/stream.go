package groundtruth

import (
	"time"

	"github.com/cidcc/cop/internal/event"
)

// Stream is Generate without an end: the same scenario (campaigns rotating their
// infrastructure in waves, names on some reports, shared hubs, local incidents,
// near-duplicates, several missions' areas and sectors) for as long as it is asked, in
// bounded memory (it keeps the current wave of each campaign, the open local incidents
// and the last 512 reports). It is the demo's default feed (ingest/inject.Demo), so what
// a new user sees is what `cop bench quality` measures. Not safe for concurrent use.
type Stream struct{ g *gen }

// NewStream returns a stream for o's Seed and IDKey (o.Events, Start and Span are not used).
func NewStream(o Options) *Stream {
	g := newGen(o)
	g.stream = true
	return &Stream{g: g}
}

// Next returns the report arriving at at and its label (kept beside it, never in it).
func (s *Stream) Next(at time.Time) (event.Event, Label) {
	s.g.next(at)
	return s.g.last, s.g.lastLabel
}
