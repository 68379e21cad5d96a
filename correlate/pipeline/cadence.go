package pipeline

import (
	"cmp"
	"time"

	"github.com/cidcc/cop/internal/store"
)

// Flush cadence defaults (see the package doc, Write cadence).
const (
	defaultFlushEvery   = time.Second
	defaultFlushWait    = 10 * time.Second
	defaultFlushMinRows = 5000
	defaultFlushRows    = 50000
)

// cadence decides when the rows a stage gathered (store.Pending) are written: at rows
// rows at once; every seconds' worth once they are at least minRows, or when the last
// write held that many (the stream is fast: its tail is not held back wait); else once
// the first of them waited wait. A negative every writes every batch at once.
//
// Why wait for minRows: ClickHouse 18.16 merges a table's parts smaller than a few MB a
// handful of new parts at a time into the partition's growing part, so each small part's
// bytes are written again at nearly every later merge until the part it joined is big:
// the bytes merges write go as the inverse of the insert's size. The daily aggregates,
// whose inserts are a tenth of the events', suffer most. At the demo's rate, against
// the bytes inserted, one insert a second had ClickHouse write 14x within 17 minutes,
// one every 5 s 9.0x within 30 and one every 10 s 4.5x (docs/history.md, "Disk under
// the demo's rate"). Waiting for minRows changes nothing at a rate that fills them
// within FlushEvery, whose inserts are large already.
type cadence struct {
	every, wait   time.Duration
	minRows, rows int
	fast          bool // the last write held minRows rows or more
}

// newCadence is the cadence of a stage's FlushEvery, FlushWait, FlushMinRows and
// FlushRows, defaults filled in. A FlushWait shorter than FlushEvery is FlushEvery.
func newCadence(every, wait time.Duration, minRows, rows int) cadence {
	c := cadence{every: cmp.Or(every, defaultFlushEvery), wait: cmp.Or(wait, defaultFlushWait),
		minRows: cmp.Or(minRows, defaultFlushMinRows), rows: cmp.Or(rows, defaultFlushRows)}
	c.wait = max(c.wait, c.every)
	return c
}

// due reports whether what p holds must be written now.
func (c cadence) due(p *store.Pending, now time.Time) bool {
	if p.Batches() == 0 {
		return false
	}
	return c.every < 0 || p.Rows() >= c.rows || !now.Before(c.at(p))
}

// at is when what p holds is due if nothing more is gathered (p holds a batch).
func (c cadence) at(p *store.Pending) time.Time {
	if p.Rows() >= c.minRows || c.fast {
		return p.Since().Add(c.every)
	}
	return p.Since().Add(c.wait)
}

// wrote records that a write of rows rows went out.
func (c *cadence) wrote(rows int) { c.fast = rows >= c.minRows }
