package correlate

import (
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
)

// Config holds every knob of the engine. Start from DefaultConfig and change what you
// need; zero values of numeric fields are replaced by the defaults in New.
type Config struct {
	// Instance names this correlator (e.g. its Kafka partition). It is mixed into situation
	// ids so that correlators owning different partitions never mint the same id.
	Instance string

	// DedupWindow is how long (in processing time) an event id and a content fingerprint
	// are remembered for duplicate detection.
	DedupWindow time.Duration
	// MaxEventIDs and MaxFingerprints bound the dedup memory: when full, the oldest entry
	// is evicted (Counters.EvictedIDs, Counters.EvictedFingerprints) even inside the window.
	MaxEventIDs     int
	MaxFingerprints int

	// DefaultReliability is r_i for contributors missing from Reliability, in [0, 1].
	DefaultReliability float64
	// Reliability maps a contributor's name to its reliability r_i in [0, 1].
	Reliability map[string]float64

	// HubThreshold is K: an observable that has glued together more than K situations
	// (see the package doc) becomes a hub and stops linking. 0 means the default; at most
	// 65534.
	HubThreshold int
	// Common lists observables that never link (public resolvers, CDNs, sinkholes), like
	// MISP's warning lists. Values must be normalised (event.NewObservable).
	Common []event.Observable

	// SeverityWeight is the severity factor per event.Severity (index 0 is unused). The
	// defaults step by 2.5 per level, more than relevance can make up (docs/scoring.md).
	SeverityWeight [event.SeverityCritical + 1]float64
	// CorroborationHalf is h in the corroboration term E/(E+h), E the effective evidence
	// Σ confidence × reliability over distinct contributors: the evidence at which the
	// term is 1/2. It rises with every independent contributor and never reaches 1.
	CorroborationHalf float64
	// FalsePositiveWeight is the evidence against that one false-positive sighting
	// (event.Event.FalsePositives) carries, before the contributor's reliability: a
	// contributor's evidence against is min(1, weight × its highest count) × its
	// reliability, and it is taken from E (docs/scoring.md). Default 0.8, what a typical
	// report brings for; negative: false positives count nothing.
	FalsePositiveWeight float64
	// RecencyHalfLife and RecencyFloor shape the recency factor
	// floor + (1 − floor) × 2^(−age/half-life), age the time since the last member was
	// observed: of two otherwise equal situations the fresher ranks higher. A floor of 1
	// switches recency off; it must be in (0, 1].
	RecencyHalfLife time.Duration
	RecencyFloor    float64
	// SectorCriticality is the criticality factor per sector; a situation takes the highest
	// of its sectors. Sectors not listed, and situations with none, get DefaultCriticality.
	SectorCriticality  map[string]float64
	DefaultCriticality float64

	// Lifetime is τ per observable type in the decay max(0, 1 − (t/τ)^(1/δ)); a situation
	// takes the longest lifetime of its observables' types, or DefaultLifetime if none.
	Lifetime        [event.ObsASN + 1]time.Duration
	DefaultLifetime time.Duration
	// DecaySpeed is δ: below 1 the score stays high for most of the lifetime and then falls.
	DecaySpeed float64
	// ScoreThreshold is how many points a score must move before Tick reports it.
	ScoreThreshold float64

	// ExpectedObservables pre-sizes the observable table (0: grow on demand).
	ExpectedObservables int

	// RetireAfter is the retirement horizon: Tick retires a situation that has received no
	// new event for longer than this (processing time), with a Removed delta, and forgets
	// it, its observables and member lists, so memory stays bounded on an endless stream.
	// The default, 30 days, is the default DefaultLifetime, by which decay has brought the
	// score of such a situation to 0; situations of longer-lived types are retired at the
	// horizon all the same. A negative value never retires by age. Keep it at least
	// DedupWindow, so that a content duplicate is always stored under the situation that
	// holds the original.
	RetireAfter time.Duration
	// MaxObservables and MaxSituations cap the live state: when Apply leaves more, the
	// situations that have gone longest without a new event are retired first (not those
	// the batch touched), with Removed deltas, until both are under their cap
	// (Counters.CapRetired).
	MaxObservables int
	MaxSituations  int
}

// DefaultConfig returns the configuration COP runs with unless told otherwise.
func DefaultConfig() Config {
	const day = 24 * time.Hour
	c := Config{
		DedupWindow:        7 * day,
		MaxEventIDs:        1 << 21,
		MaxFingerprints:    1 << 21,
		DefaultReliability: 0.8,
		HubThreshold:       32,
		SeverityWeight:     [...]float64{0, 0.026, 0.064, 0.16, 0.4, 1},
		CorroborationHalf:  4,
		RecencyHalfLife:    24 * time.Hour,
		RecencyFloor:       0.5,
		DefaultCriticality: 0.5,
		DefaultLifetime:    30 * day,
		DecaySpeed:         0.3,
		ScoreThreshold:     1,
		RetireAfter:        30 * day,
		MaxObservables:     1 << 23, // about 2 GB of engine state
		MaxSituations:      1 << 23,
		SectorCriticality: map[string]float64{
			"energy": 1, "telecom": 1, "submarine-cable": 1, "digital-infrastructure": 1, "defence": 1,
			"transport": 0.9, "space": 0.9, "health": 0.9, "drinking-water": 0.9,
			"banking": 0.8, "financial-market-infrastructure": 0.8, "public-administration": 0.8,
			"ict-service-management": 0.8, "waste-water": 0.7,
			"postal-courier": 0.6, "waste-management": 0.6, "chemicals": 0.6, "food": 0.6,
			"manufacturing": 0.6, "digital-providers": 0.6, "research": 0.6,
		},
	}
	c.Lifetime[event.ObsIPv4] = 30 * day
	c.Lifetime[event.ObsIPv6] = 30 * day
	c.Lifetime[event.ObsCIDR] = 60 * day
	c.Lifetime[event.ObsDomain] = 90 * day
	c.Lifetime[event.ObsURL] = 60 * day
	c.Lifetime[event.ObsEmail] = 90 * day
	c.Lifetime[event.ObsSHA256] = 365 * day
	c.Lifetime[event.ObsSHA1] = 365 * day
	c.Lifetime[event.ObsMD5] = 365 * day
	c.Lifetime[event.ObsCVE] = picture.LongestLifetime
	c.Lifetime[event.ObsASN] = 180 * day
	c.FalsePositiveWeight = 0.8 // one false-positive sighting weighs what a typical report does
	return c
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.DedupWindow <= 0 {
		c.DedupWindow = d.DedupWindow
	}
	if c.MaxEventIDs <= 0 {
		c.MaxEventIDs = d.MaxEventIDs
	}
	if c.MaxFingerprints <= 0 {
		c.MaxFingerprints = d.MaxFingerprints
	}
	if c.DefaultReliability <= 0 {
		c.DefaultReliability = d.DefaultReliability
	}
	if c.HubThreshold <= 0 {
		c.HubThreshold = d.HubThreshold
	}
	if c.SeverityWeight == [len(c.SeverityWeight)]float64{} {
		c.SeverityWeight = d.SeverityWeight
	}
	if !(c.CorroborationHalf > 0) {
		c.CorroborationHalf = d.CorroborationHalf
	}
	switch {
	case c.FalsePositiveWeight < 0:
		c.FalsePositiveWeight = 0
	case !(c.FalsePositiveWeight > 0):
		c.FalsePositiveWeight = d.FalsePositiveWeight
	}
	if c.RecencyHalfLife <= 0 {
		c.RecencyHalfLife = d.RecencyHalfLife
	}
	if !(c.RecencyFloor > 0) || c.RecencyFloor > 1 {
		c.RecencyFloor = d.RecencyFloor
	}
	if c.SectorCriticality == nil {
		c.SectorCriticality = d.SectorCriticality
	}
	if c.DefaultCriticality <= 0 {
		c.DefaultCriticality = d.DefaultCriticality
	}
	for i := range c.Lifetime {
		if c.Lifetime[i] <= 0 {
			c.Lifetime[i] = d.Lifetime[i]
		}
	}
	if c.DefaultLifetime <= 0 {
		c.DefaultLifetime = d.DefaultLifetime
	}
	if c.DecaySpeed <= 0 {
		c.DecaySpeed = d.DecaySpeed
	}
	if c.ScoreThreshold <= 0 {
		c.ScoreThreshold = d.ScoreThreshold
	}
	if c.RetireAfter == 0 {
		c.RetireAfter = d.RetireAfter
	}
	if c.MaxObservables <= 0 {
		c.MaxObservables = d.MaxObservables
	}
	if c.MaxSituations <= 0 {
		c.MaxSituations = d.MaxSituations
	}
	return c
}
