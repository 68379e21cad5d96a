// Package deadletter owns the record COP keeps for every message it could not accept: who
// sent it, where it came from, why it was rejected and the raw bytes (size-capped). Ingest
// produces these to the cop.deadletter topic; the store keeps them in ClickHouse.
package deadletter

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// MaxRaw caps how much of a rejected message is kept; RawSize keeps the true size.
const MaxRaw = 64 << 10

// Letter is one rejected message or object.
type Letter struct {
	// ID is deterministic for a given source position and object, so a replayed message
	// yields the same letter (and the store folds it).
	ID          string `json:"id"`
	Contributor string `json:"contributor"`
	// Source is where the message came from: "kafka:cop.feed.x/2@1234" or "http:<request id>".
	Source     string    `json:"source"`
	Format     string    `json:"format"`
	Reason     string    `json:"reason"`
	Raw        []byte    `json:"raw"`
	RawSize    int       `json:"raw_size"`
	ReceivedAt time.Time `json:"received_at"`
}

// New builds a letter; part distinguishes several rejections from one message (the index
// of a bad object in a bundle).
func New(contributor, source, format, reason string, raw []byte, part int, at time.Time) Letter {
	h := sha256.New()
	h.Write([]byte(source))
	h.Write([]byte{0, byte(part >> 24), byte(part >> 16), byte(part >> 8), byte(part)})
	h.Write([]byte(reason))
	var sum [sha256.Size]byte
	l := Letter{
		ID: hex.EncodeToString(h.Sum(sum[:0])[:16]), Contributor: contributor, Source: source,
		Format: format, Reason: reason, RawSize: len(raw), ReceivedAt: at,
	}
	if len(raw) > MaxRaw {
		raw = raw[:MaxRaw]
	}
	l.Raw = raw
	return l
}
