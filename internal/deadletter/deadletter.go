// Package deadletter owns the record COP keeps for every message it could not accept in
// full: who sent it, where it came from, why its elements were rejected and the raw bytes.
// Ingest produces these to the cop.deadletter topic; the store keeps them in ClickHouse.
//
// One message is one letter, however many of its elements were rejected, and a letter's
// size is capped (MaxRaw, MaxReasons, MaxReason): what one push costs downstream does not
// grow with the number of bad elements nor with the size of a value a reason quotes.
package deadletter

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/cidcc/cop/internal/event"
)

// Caps on one letter.
const (
	// MaxRaw caps how much of a rejected message is kept; RawSize keeps the true size.
	MaxRaw = 64 << 10
	// MaxReasons caps how many reasons a letter lists; Rejected keeps the true count.
	MaxReasons = 100
	// MaxReason caps one reason, in bytes, "…" included.
	MaxReason = 512
)

// Letter is one rejected message (a Kafka message, an HTTP push) and why.
type Letter struct {
	// ID is deterministic for a given source position and reasons, so a replayed message
	// yields the same letter (and the store folds it).
	ID          string `json:"id"`
	Contributor string `json:"contributor"`
	// Source is where the message came from: "kafka:cop.feed.x/2@1234" or "http:<request id>".
	Source string `json:"source"`
	Format string `json:"format"`
	// Reason is the summary for a reader: the only reason, or the count and the first.
	Reason string `json:"reason"`
	// Reasons are the first MaxReasons reasons, one line per rejected element, in document
	// order.
	Reasons []string `json:"reasons,omitempty"`
	// Rejected is how many elements (events, objects, attributes; the document itself when
	// it could not be read) were rejected: at least len(Reasons).
	Rejected   int       `json:"rejected"`
	Raw        []byte    `json:"raw"`
	RawSize    int       `json:"raw_size"`
	ReceivedAt time.Time `json:"received_at"`
}

// New builds the letter of a message rejected for reasons.
func New(contributor, source, format string, raw []byte, at time.Time, reasons ...string) Letter {
	return build(contributor, source, format, raw, at, len(reasons), func(i int) string { return reasons[i] })
}

// FromErrors builds the letter of a message whose elements failed with errs; only the
// first MaxReasons errors are turned into text.
func FromErrors(contributor, source, format string, raw []byte, at time.Time, errs []error) Letter {
	return build(contributor, source, format, raw, at, len(errs), func(i int) string { return errs[i].Error() })
}

func build(contributor, source, format string, raw []byte, at time.Time, n int, reason func(int) string) Letter {
	l := Letter{Contributor: contributor, Source: source, Format: format, Rejected: n, Raw: raw, RawSize: len(raw), ReceivedAt: at}
	l.Reasons = make([]string, min(n, MaxReasons))
	for i := range l.Reasons {
		l.Reasons[i] = reason(i)
	}
	l = l.Capped()
	h := sha256.New()
	h.Write([]byte(source))
	h.Write([]byte{0})
	h.Write([]byte(l.Reason))
	var sum [sha256.Size]byte
	l.ID = hex.EncodeToString(h.Sum(sum[:0])[:16])
	return l
}

// Capped returns l within the caps: Raw cut to MaxRaw (RawSize untouched), at most
// MaxReasons reasons, each one line of at most MaxReason bytes, Rejected at least
// len(Reasons), and Reason the summary of Reasons. A letter of an older producer (one
// reason, no list) gets its reason as the list. The sink applies it to whatever
// cop.deadletter holds.
func (l Letter) Capped() Letter {
	if len(l.Raw) > MaxRaw {
		l.Raw = l.Raw[:MaxRaw]
	}
	if l.RawSize < len(l.Raw) {
		l.RawSize = len(l.Raw)
	}
	if len(l.Reasons) == 0 && l.Reason != "" {
		l.Reasons = []string{l.Reason}
	}
	reasons := make([]string, min(len(l.Reasons), MaxReasons))
	for i := range reasons {
		reasons[i] = event.Truncate(oneLine.Replace(l.Reasons[i]), MaxReason)
	}
	l.Reasons = reasons
	l.Rejected = max(l.Rejected, len(l.Reasons))
	l.Reason = summary(l.Reasons, l.Rejected)
	return l
}

// oneLine makes a reason one line: Validate joins the problems of one element with
// newlines, and a reader (the push answer, cop push, a log) takes a line for a rejection.
var oneLine = strings.NewReplacer("\r\n", "; ", "\n", "; ", "\r", "; ")

// summary is the one-line Reason of a letter: the first reason, prefixed with the count
// when there are several.
func summary(reasons []string, rejected int) string {
	first := "no reason given"
	if len(reasons) > 0 {
		first = reasons[0]
	}
	if rejected <= 1 {
		return first
	}
	return event.Truncate(strconv.Itoa(rejected)+" rejected; first: "+first, MaxReason)
}
