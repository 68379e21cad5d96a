// Package event owns COP's canonical event: the one shape every feed format is turned into,
// its observables and their normalisation, its markings (TLP, releasability, anonymisation,
// exercise) and its validation.
//
// It does no I/O and knows nothing of Kafka, ClickHouse or HTTP: parsers build events, the
// correlation engine reads them, the store writes them.
package event

import (
	"time"

	"github.com/cidcc/cop/internal/keys"
)

// Event is one contribution after normalisation. Field names in JSON are the ones DESIGN.md
// uses; the same JSON is the payload of the cop.events topic and the output of `cop validate`.
type Event struct {
	// ID is deterministic (see Source.EventID), so a redelivered report keeps its id.
	ID string `json:"id"`
	// Contributor comes from the authenticated identity (Kafka topic, HTTP token), never
	// from the payload.
	Contributor string `json:"contributor"`
	// SourceID is the contributor's own identifier of the report.
	SourceID    string       `json:"source_id"`
	Kind        Kind         `json:"kind"`
	ObservedAt  time.Time    `json:"observed_at"`
	ReceivedAt  time.Time    `json:"received_at"`
	ValidUntil  time.Time    `json:"valid_until,omitzero"`
	Observables []Observable `json:"observables,omitempty"`
	Category    string       `json:"category,omitempty"`
	Techniques  []string     `json:"techniques,omitempty"`
	// Names are the campaigns, intrusion sets, threat actors, malware and tools the
	// contributor says the report is about, normalised by Validate (see Name).
	Names      []Name   `json:"names,omitempty"`
	Sectors    []string `json:"sectors,omitempty"`
	Countries  []string `json:"countries,omitempty"`
	Geo        *Geo     `json:"geo,omitempty"`
	Severity   Severity `json:"severity"`
	Confidence uint8    `json:"confidence"`
	// FalsePositives counts the contributor's reports that the event's observables were
	// seen and judged harmless (MISP false-positive sightings): evidence against it, which
	// the correlator may weigh against corroboration. 0 when none were reported.
	FalsePositives uint32   `json:"false_positives,omitempty"`
	TLP            TLP      `json:"tlp"`
	ReleasableTo   []string `json:"releasable_to,omitempty"`
	Anonymise      bool     `json:"anonymise,omitempty"`
	// Exercise is empty for real traffic, else the exercise's name (e.g. "CYDEF-X-2026").
	Exercise string `json:"exercise,omitempty"`
	Title    string `json:"title"`
	Summary  string `json:"summary,omitempty"`
}

// Name is one stated name of a campaign, intrusion set, threat actor, malware or tool.
// Validate normalises Name (trimmed, white space collapsed to one space, case folded) so
// "APT 28" and "apt  28" from two contributors are the same name; aliases are not resolved.
type Name struct {
	Kind string `json:"kind"` // one of NameKinds
	Name string `json:"name"`
}

// NameKinds are the kinds of Name, spelt as the STIX object types they come from.
var NameKinds = []string{"campaign", "intrusion-set", "threat-actor", "malware", "tool"}

// Geo is a point in WGS84 degrees.
type Geo struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Source says who sent a document and when it arrived, and holds the deployment's id key.
// Parsers stamp it on every event they build, so the contributor can never come from the
// payload, and mint every event id with EventID.
type Source struct {
	Contributor string
	ReceivedAt  time.Time
	// IDKey is the secret event ids are keyed with (internal/keys).
	IDKey []byte
}

// EventID returns the deterministic id of the report sourceID from s.Contributor: the
// first 128 bits of HMAC-SHA256 under s.IDKey over both, hex encoded. The same report
// delivered twice gets the same id; two contributors using the same local id do not
// collide; and without the key, knowing the contributor and guessing its report ids does
// not give the id (so an id shown with an anonymised event does not name its sender).
func (s Source) EventID(sourceID string) string {
	return keys.Hash(s.IDKey, s.Contributor, sourceID)[:32]
}

// Primary returns the observable that keys the event on cop.events (the first one after
// normalisation), or false when the event has none.
func (e *Event) Primary() (Observable, bool) {
	if len(e.Observables) == 0 {
		return Observable{}, false
	}
	return e.Observables[0], true
}
