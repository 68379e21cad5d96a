package pipeline

// The Correlator's flushes in flight: the gathered rows are written to ClickHouse and
// their offsets committed on a goroutine of their own while the loop applies and
// publishes the next fetches (see "Pipelining" in the package doc).

import (
	"context"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/cidcc/cop/internal/deadletter"
	"github.com/cidcc/cop/internal/store"
)

// flushJob is one flush: the rows of consecutive fetches, their dead letters and their
// messages, whose offsets it commits once the rows and letters are written.
type flushJob struct {
	pend    store.Pending
	msgs    []kafka.Message
	letters []deadletter.Letter
	// pub is the publication of the deltas of the last fetch applied before the flush
	// (nil: none): the commit waits for it.
	pub *publication
	err error
}

// takeOff hands what the loop gathered to a flush on its own goroutine, once the flush in
// flight (if any) has landed: one flush at a time, each of the fetches after the last
// one's, so offsets are committed in order. It returns the error of the flush it waited
// for.
func (l *correlatorLoop) takeOff() error {
	if l.pend.Batches() == 0 {
		return nil
	}
	if err := l.land(); err != nil {
		return err
	}
	if rows := l.pend.Rows(); rows > 0 {
		l.cadence.wrote(rows)
	}
	j := l.spare
	l.spare = nil
	j.pend, l.pend = l.pend, j.pend
	j.msgs, l.pendMsgs = l.pendMsgs, j.msgs
	j.letters, l.letters = l.letters, j.letters
	j.err, j.pub = nil, l.pub.last
	// Everything the engine applied is in j now: once j has landed, and while nothing
	// more is applied, the state file may be written.
	l.ahead = false
	l.flight = j
	go func() {
		j.err = l.write(l.fctx, j)
		l.flushed <- j
	}()
	return nil
}

// land waits for the flush in flight, if any, and records its commit.
func (l *correlatorLoop) land() error {
	if l.flight == nil {
		return nil
	}
	return l.landed(<-l.flushed)
}

// landed records the end of flush j, received from l.flushed: the offsets it committed,
// the metrics; j becomes the spare job.
func (l *correlatorLoop) landed(j *flushJob) error {
	l.flight = nil
	if j.err != nil {
		// Not committed: the loop stops, and everything since the last commit is
		// redelivered; the state file (written only when nothing is ahead) is older.
		l.ahead = true
		return j.err
	}
	if rows := j.pend.Rows(); rows > 0 {
		l.m.flushes.Inc()
		l.m.flushRows.Set(float64(rows))
	}
	for i := range j.msgs {
		if o := j.msgs[i].Offset + 1; o > l.committed[j.msgs[i].Partition] {
			l.committed[j.msgs[i].Partition] = o
		}
	}
	batches := j.pend.Batches()
	l.m.batches.Add(uint64(batches))
	l.m.batchSecs.Set(time.Since(j.pend.Since()).Seconds())
	l.m.gauges(l.Engine)
	for range batches {
		l.sw.committed()
	}
	j.pend.Reset()
	j.pub = nil
	clear(j.msgs)
	j.msgs = j.msgs[:0]
	clear(j.letters)
	j.letters = j.letters[:0]
	l.spare = j
	return nil
}

// settle writes and commits everything applied: the flush in flight, then what is
// gathered. Afterwards the engine is not ahead of the commits (the state file may be
// written).
func (l *correlatorLoop) settle() error {
	if err := l.takeOff(); err != nil {
		return err
	}
	return l.land()
}

// write stores j's rows, then its dead letters, then commits its messages' offsets, each
// retried until it succeeds or ctx ends. It runs on the flush's goroutine: it reads only
// what the loop does not change while j is in flight.
func (l *correlatorLoop) write(ctx context.Context, j *flushJob) error {
	if j.pend.Rows() > 0 {
		if err := retry(ctx, l.Log, l.m.retries, "store batch", func() error { return l.Store.WritePending(ctx, &j.pend) }); err != nil {
			return err
		}
	}
	if len(j.letters) > 0 {
		if err := retry(ctx, l.Log, l.m.retries, "dead-letter undecodable events", func() error { return writeLetters(ctx, l.dead, j.letters) }); err != nil {
			return err
		}
	}
	if err := published(ctx, j.pub); err != nil {
		return err
	}
	if len(j.msgs) > 0 {
		return retry(ctx, l.Log, l.m.retries, "commit cop.events offsets", func() error { return l.r.CommitMessages(ctx, j.msgs...) })
	}
	return nil
}
