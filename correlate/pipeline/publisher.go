package pipeline

// The Correlator's deltas published on cop.picture on a goroutine of their own, in the
// order the loop applied them, while the loop applies the next fetch (see "Pipelining" in
// the package doc).

import (
	"context"
	"sync"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/cidcc/cop/internal/metrics"
)

// publisher writes batches of picture messages one after the other, each retried until it
// is written or its context ends.
type publisher struct {
	w       *kafka.Writer
	log     zerolog.Logger
	retries *metrics.Counter
	q       chan *publication
	wg      sync.WaitGroup
	// last is the publication queued last (nil: none yet): a flush waits for it before
	// it commits, so every fetch it commits has its deltas on cop.picture.
	last *publication
}

// publication is one batch's messages; done is closed once they are written (err nil) or
// given up.
type publication struct {
	msgs []kafka.Message
	done chan struct{}
	err  error
}

// startPublisher starts the publishing goroutine, which writes under ctx until stop.
func startPublisher(ctx context.Context, w *kafka.Writer, log zerolog.Logger, retries *metrics.Counter) *publisher {
	p := &publisher{w: w, log: log, retries: retries, q: make(chan *publication, 1)}
	p.wg.Go(func() {
		for pub := range p.q {
			pub.err = retry(ctx, p.log, p.retries, "publish picture", func() error { return p.w.WriteMessages(ctx, pub.msgs...) })
			close(pub.done)
		}
	})
	return p
}

// publish queues msgs after those queued before; it waits while the goroutine is busy
// with one and another is queued (backpressure), until ctx ends. It returns the error of
// the publication before, if it failed: the loop stops then.
func (p *publisher) publish(ctx context.Context, msgs []kafka.Message) error {
	if err := p.failed(); err != nil {
		return err
	}
	pub := &publication{msgs: msgs, done: make(chan struct{})}
	select {
	case p.q <- pub:
		p.last = pub
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// failed is the error of the last publication if it is done and failed.
func (p *publisher) failed() error {
	if p.last == nil {
		return nil
	}
	select {
	case <-p.last.done:
		return p.last.err
	default:
		return nil
	}
}

// stop waits for what is queued to be written (or given up) and ends the goroutine.
func (p *publisher) stop() {
	close(p.q)
	p.wg.Wait()
}

// published waits until pub (nil: nothing) is written, or ctx ends.
func published(ctx context.Context, pub *publication) error {
	if pub == nil {
		return nil
	}
	select {
	case <-pub.done:
		return pub.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
