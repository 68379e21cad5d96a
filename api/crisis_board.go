package api

// The crisis board of one API instance: the crises in memory, their evaluation against
// the live picture, their storage and alerts. The rules are internal/crisis's; who may
// see a crisis is decided here through internal/access.

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/alert"
	"github.com/cidcc/cop/internal/crisis"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
)

// CrisisBoard holds the crises of this instance: loaded from cop.crises at start, kept
// current by evaluating the rules against the live picture, changed by the actions of
// analysts and liaison officers, each change stored and pushed to the board's
// websocket clients. With several API instances, one should run the crisis stage
// (each instance evaluates on its own).
type CrisisBoard struct {
	Rules    *crisis.Rules
	Missions access.Missions
	// Namespace is the deployment's (bus.Config.Namespace): its crises in cop.crises.
	Namespace string
	// Campaigns are the campaign links the picture uses (Hub.Campaigns).
	Campaigns picture.CampaignConfig

	mu      sync.Mutex
	crises  map[string]*crisis.Crisis // Lock should be held.
	changed chan struct{}             // closed and replaced on every change; Lock should be held.
	loaded  bool
}

// NewCrisisBoard returns an empty board under rules (nil: crisis.DefaultRules).
func NewCrisisBoard(rules *crisis.Rules, missions access.Missions) *CrisisBoard {
	if rules == nil {
		rules = crisis.DefaultRules()
	}
	return &CrisisBoard{Rules: rules, Missions: missions, crises: map[string]*crisis.Crisis{}, changed: make(chan struct{})}
}

// Load replaces the board's crises with cs (those stored before a restart).
func (b *CrisisBoard) Load(cs []crisis.Crisis) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range cs {
		c := cs[i].Clone()
		if cur, ok := b.crises[c.ID]; !ok || cur.Version < c.Version {
			b.crises[c.ID] = &c
		}
	}
	b.loaded = true
	b.notifyLocked()
}

// List returns a copy of every crisis, sorted by id.
func (b *CrisisBoard) List() []crisis.Crisis {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.listLocked()
}

// listLocked implements List. Lock should be held.
func (b *CrisisBoard) listLocked() []crisis.Crisis {
	out := make([]crisis.Crisis, 0, len(b.crises))
	for _, c := range b.crises {
		out = append(out, c.Clone())
	}
	slices.SortFunc(out, func(x, y crisis.Crisis) int { return strings.Compare(x.ID, y.ID) })
	return out
}

// Get returns a copy of crisis id.
func (b *CrisisBoard) Get(id string) (crisis.Crisis, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.crises[id]
	if !ok {
		return crisis.Crisis{}, false
	}
	return c.Clone(), true
}

// Changed returns a channel closed at the next change.
func (b *CrisisBoard) Changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.changed
}

// notifyLocked wakes every waiter of Changed. Lock should be held.
func (b *CrisisBoard) notifyLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// evaluate applies the rules to the picture, keeps what changed and returns it. The rules
// run without the lock (a large picture takes a while); a crisis a person changed in the
// meantime keeps the person's change, and retry says to evaluate again.
func (b *CrisisBoard) evaluate(p *Picture, now time.Time) (res crisis.Result, retry bool) {
	sits, _ := p.Snapshot()
	held := b.List()
	versions := make(map[string]uint64, len(held))
	for _, c := range held {
		versions[c.ID] = c.Version
	}
	all := crisis.Evaluate(crisis.Input{Rules: b.Rules, Missions: b.Missions, Situations: sits, Campaigns: b.Campaigns, Crises: held, Now: now})
	b.mu.Lock()
	defer b.mu.Unlock()
	kept := map[string]bool{}
	for i := range all.Updated {
		c := all.Updated[i].Clone()
		cur, ok := b.crises[c.ID]
		if v, was := versions[c.ID]; ok != was || ok && cur.Version != v {
			retry = true
			continue
		}
		b.crises[c.ID] = &c
		kept[c.ID] = true
		res.Updated = append(res.Updated, c.Clone())
	}
	for _, ch := range all.Changes {
		if kept[ch.Crisis.ID] {
			res.Changes = append(res.Changes, ch)
		}
	}
	if len(res.Updated) > 0 {
		b.notifyLocked()
	}
	return res, retry
}

// act applies a person's action to crisis id, if it is visible to the actor (else
// found is false), and returns the change.
func (b *CrisisBoard) act(id string, visible func(*crisis.Crisis) bool, a crisis.Action, actor string, now time.Time) (ch crisis.Change, found bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.crises[id]
	if !ok || !visible(c) {
		return crisis.Change{}, false, nil
	}
	next := c.Clone()
	if ch, err = next.Act(a, actor, now); err != nil {
		return crisis.Change{}, true, err
	}
	b.crises[id] = &next
	b.notifyLocked()
	return ch, true, nil
}

// Visible reports whether id may see crisis c in the picture of exercise: it must be
// cleared for the crisis's marking (the most restrictive of every situation it held, so
// it may see each of them) and, a commander, the crisis must touch one of its missions.
func (b *CrisisBoard) Visible(id *access.Identity, exercise string, c *crisis.Crisis) bool {
	if !id.AllowedExercise(exercise) || !id.CanSee(c.Marked(), strings.ToUpper(exercise)) {
		return false
	}
	switch id.Role {
	case access.RoleCommander:
		return c.Touches(id.Missions)
	case access.RoleAnalyst, access.RoleLiaison, access.RoleAdmin:
		return true
	}
	return false
}

// crisisEvalEvery is how often the crisis stage looks at the picture (when it changed).
const crisisEvalEvery = time.Second

// crisisRestFactor is how much longer than its last evaluation the crisis stage waits
// before the next: an evaluation reads the whole picture (0.24 s per 10,000 situations),
// so on a large one evaluating every second took a whole core (a quarter of cop serve's
// CPU under `cop bench e2e`); waiting 4x as long keeps it under a fifth of a core. A
// small picture is still evaluated every second.
const crisisRestFactor = 4

// RunCrises is the crisis stage: it loads the stored crises, waits for the live picture to
// load, then evaluates the rules whenever the picture changed, at most every second and
// at most a fifth of the time (crisisRestFactor), storing and alerting what changed,
// until ctx ends.
func (s *Server) RunCrises(ctx context.Context) error {
	b, log := s.Crises, s.Log.With().Str("stage", "crisis").Logger()
	if s.Store != nil {
		for {
			cs, err := s.Store.LoadCrises(ctx, b.Namespace, time.Now().Add(-30*24*time.Hour))
			if err == nil {
				b.Load(cs)
				log.Info().Int("crises", len(cs)).Str("rules", b.Rules.Version).Msg("crises loaded")
				break
			}
			log.Warn().Str("error", store.Redacted(err)).Msg("cannot load crises; retrying")
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(2 * time.Second):
			}
		}
	} else {
		b.Load(nil)
	}
	t := time.NewTicker(crisisEvalEvery)
	defer t.Stop()
	var seen uint64
	var rested time.Time // the next evaluation not before
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if !s.Picture.Loaded() || time.Now().Before(rested) {
			continue
		}
		if seq := s.Picture.Seq(); seq == seen {
			continue
		} else {
			seen = seq
		}
		start := time.Now()
		if !s.crisisCycle(ctx, log) {
			seen = 0
		}
		rested = time.Now().Add(crisisRestFactor * time.Since(start))
	}
}

// crisisCycle evaluates the rules once, stores and alerts what changed; false means a
// person's action raced it and it should run again.
func (s *Server) crisisCycle(ctx context.Context, log zerolog.Logger) bool {
	res, retry := s.Crises.evaluate(s.Picture, time.Now().UTC())
	s.saveCrises(ctx, log, res.Updated)
	for _, ch := range res.Changes {
		s.raiseCrisis(ch)
		log.Info().Str("crisis", ch.Crisis.ID).Str("change", string(ch.Kind)).Int("level", ch.Crisis.Level).
			Str("status", string(ch.Crisis.Status)).Str("exercise", ch.Crisis.Exercise).Msg("crisis changed")
	}
	return !retry
}

// saveCrises stores cs, retrying a few times: a crisis held only in memory would be lost
// at a restart, but the next change stores its latest version anyway.
func (s *Server) saveCrises(ctx context.Context, log zerolog.Logger, cs []crisis.Crisis) {
	if s.Store == nil || len(cs) == 0 {
		return
	}
	var err error
	for try := range 3 {
		if err = s.Store.SaveCrises(ctx, s.Crises.Namespace, cs); err == nil || ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(try+1) * 500 * time.Millisecond):
		}
	}
	log.Error().Str("error", store.Redacted(err)).Int("crises", len(cs)).Msg("cannot store crises; kept in memory, stored with their next change")
}

// raiseCrisis raises an alert for a change, when the server has a sink.
func (s *Server) raiseCrisis(ch crisis.Change) {
	if s.Alerts == nil {
		return
	}
	c := &ch.Crisis
	s.Alerts.Raise(alert.Alert{ID: c.ID + "/v" + strconv.FormatUint(c.Version, 10), At: c.UpdatedAt, Kind: alert.KindCrisis,
		Reason: ch.Reason, Level: c.Level, Subject: c.Summary()})
}
