package api

// The query parameters of the history API: each read, checked and refused with the
// parameter named and what was expected.

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/store"
)

// badRequest is a client error whose message names the parameter and what was expected.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func badParam(name, want string) error { return &badRequest{name + ": want " + want} }

// callerFor builds the store's view of id for the exercise the request asks for.
func callerFor(id access.Identity, q url.Values) (store.Caller, error) {
	ex := strings.ToUpper(q.Get("exercise"))
	if !id.AllowedExercise(ex) {
		return store.Caller{}, errForbiddenExercise
	}
	return store.Caller{Name: id.Name, Missions: id.Missions, MaxTLP: id.MaxTLP, Exercise: ex,
		SeeAnonymised: id.Role == access.RoleAdmin}, nil
}

var (
	errForbiddenExercise = errors.New("this identity may not view that exercise")
	errForbiddenMission  = errors.New("mission: name one of this identity's missions")
)

// list reads a comma-separated or repeated parameter.
func list(q url.Values, name string) []string {
	var out []string
	for _, v := range q[name] {
		for _, x := range strings.Split(v, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
	}
	return out
}

func parseList[T any](q url.Values, name string, parse func(string) (T, error), want string) ([]T, error) {
	var out []T
	for _, s := range list(q, name) {
		v, err := parse(s)
		if err != nil {
			return nil, badParam(name, want)
		}
		out = append(out, v)
	}
	return out, nil
}

func parseTime(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, ok := queryTime(v, time.Now())
	if !ok {
		return t, badParam(name, "an RFC 3339 time (2026-12-01T08:00:00Z), a date (2026-12-01, UTC midnight) or an age (90m, 24h, 7d, 2w)")
	}
	// Beyond what the store holds (1970..2105): a since selects nothing, an until bounds nothing.
	return store.QueryTime(t), nil
}

// queryTime reads a time parameter: RFC 3339, a date (midnight UTC), or an age before now
// in minutes, hours, days or weeks.
func queryTime(v string, now time.Time) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, true
	}
	if len(v) < 2 {
		return time.Time{}, false
	}
	n, err := strconv.ParseUint(v[:len(v)-1], 10, 32)
	if err != nil {
		return time.Time{}, false
	}
	unit := map[byte]time.Duration{'m': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[v[len(v)-1]]
	if unit == 0 {
		return time.Time{}, false
	}
	return now.Add(-time.Duration(n) * unit).UTC(), true
}

func parseLimit(q url.Values, def int) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, badParam("limit", "1 to "+strconv.Itoa(MaxLimit))
	}
	return n, nil
}

func parseCursor(q url.Values) (*store.Cursor, error) {
	v := q.Get("cursor")
	if v == "" {
		return nil, nil
	}
	c, err := store.ParseCursor(v)
	if err != nil {
		return nil, badParam("cursor", "a cursor from a previous page's next")
	}
	return &c, nil
}

// observableParam normalises an observable value (and optional type) as ingest does, so
// a look-up for "Evil[.]Example.COM" finds evil.example.com.
func observableParam(value, typ string) (string, string, error) {
	if typ != "" {
		t, err := event.ParseObservableType(typ)
		if err != nil {
			return "", "", badParam("observable_type", "one of ipv4, ipv6, cidr, domain, url, email, sha256, sha1, md5, cve, asn")
		}
		o, err := event.NewObservable(t, value)
		if err != nil {
			return "", "", &badRequest{"observable: " + err.Error()}
		}
		return o.Value, o.Type.String(), nil
	}
	if o, err := event.GuessObservable(value); err == nil {
		return o.Value, "", nil
	}
	return value, "", nil
}

// eventFilter reads the events filters of the query string.
func eventFilter(q url.Values) (f store.EventFilter, err error) {
	if f.Since, err = parseTime(q, "since"); err != nil {
		return f, err
	}
	if f.Until, err = parseTime(q, "until"); err != nil {
		return f, err
	}
	f.Contributors, f.Countries, f.Sectors, f.Techniques = list(q, "contributor"), upper(list(q, "country")),
		list(q, "sector"), upper(list(q, "technique"))
	for _, c := range f.Countries {
		if !event.IsCountry(c) {
			return f, badParam("country", fmt.Sprintf("ISO 3166-1 alpha-2 codes such as EE or BA, not %s", event.Quote(c)))
		}
	}
	for i, sec := range f.Sectors {
		if f.Sectors[i] = strings.ToLower(sec); !event.IsSector(f.Sectors[i]) {
			return f, badParam("sector", fmt.Sprintf("NIS2 sectors (%s), not %s", strings.Join(event.Sectors, ", "), event.Quote(sec)))
		}
	}
	if f.Kinds, err = parseList(q, "kind", event.ParseKind, "indicator, sighting, incident or report"); err != nil {
		return f, err
	}
	if f.Severities, err = parseList(q, "severity", event.ParseSeverity, "info, low, medium, high or critical"); err != nil {
		return f, err
	}
	if f.TLPs, err = parseList(q, "tlp", event.ParseTLP, "CLEAR, GREEN, AMBER, AMBER+STRICT or RED"); err != nil {
		return f, err
	}
	if v := q.Get("observable"); v != "" {
		if f.ObsValue, f.ObsType, err = observableParam(v, q.Get("observable_type")); err != nil {
			return f, err
		}
	} else if t := q.Get("observable_type"); t != "" {
		ot, err := event.ParseObservableType(t)
		if err != nil {
			return f, badParam("observable_type", "an observable type")
		}
		f.ObsType = ot.String()
	}
	f.Q = q.Get("q")
	if f.Names, err = nameParam(q); err != nil {
		return f, err
	}
	switch q.Get("sort") {
	case "", "-observed_at":
	case "observed_at":
		f.Asc = true
	default:
		return f, badParam("sort", "observed_at or -observed_at")
	}
	if f.After, err = parseCursor(q); err != nil {
		return f, err
	}
	if f.After != nil && f.After.ByScore {
		return f, badParam("cursor", "a cursor from a previous page of events")
	}
	f.Limit, err = parseLimit(q, DefaultLimit)
	return f, err
}

// nameParam reads the repeated name parameter: stated names of campaigns, intrusion sets,
// threat actors, malware or tools, normalised as ingest normalises them (so the match is
// exact but ignores case and runs of white space). Not comma-separated: names hold commas.
func nameParam(q url.Values) ([]string, error) {
	var out []string
	for _, v := range q["name"] {
		n := event.NormaliseName(v)
		if n == "" || len(n) > event.MaxNameLen {
			return nil, badParam("name", fmt.Sprintf("the name of a campaign, intrusion set, threat actor, malware or tool (1 to %d bytes)", event.MaxNameLen))
		}
		out = append(out, n)
	}
	return out, nil
}

func upper(xs []string) []string {
	for i := range xs {
		xs[i] = strings.ToUpper(xs[i])
	}
	return xs
}

// situationFilter reads the situations filters of the query string.
func situationFilter(q url.Values) (f store.SituationFilter, err error) {
	eq := url.Values{}
	for k, v := range q {
		if k != "sort" && k != "cursor" {
			eq[k] = v
		}
	}
	ef, err := eventFilter(eq)
	if err != nil {
		return f, err
	}
	f.Since, f.Until, f.Contributors, f.Countries, f.Sectors = ef.Since, ef.Until, ef.Contributors, ef.Countries, ef.Sectors
	f.Severities, f.TLPs, f.Q, f.Names, f.Limit = ef.Severities, ef.TLPs, ef.Q, ef.Names, ef.Limit
	f.Members = store.EventFilter{Kinds: ef.Kinds, Techniques: ef.Techniques, ObsValue: ef.ObsValue, ObsType: ef.ObsType}
	if v := q.Get("min_score"); v != "" {
		if f.MinScore, err = strconv.ParseFloat(v, 64); err != nil || !(f.MinScore >= 0 && f.MinScore <= 100) { // NaN too
			return f, badParam("min_score", "a number from 0 to 100")
		}
	}
	switch q.Get("sort") {
	case "", "-updated_at", "-observed_at":
	case "updated_at", "observed_at":
		f.Asc = true
	case "-score":
		f.ByScore = true
	case "score":
		f.ByScore, f.Asc = true, true
	default:
		return f, badParam("sort", "-updated_at (newest first), updated_at, -score (best first) or score")
	}
	if f.After, err = parseCursor(q); err != nil {
		return f, err
	}
	if f.After != nil && f.After.ByScore != f.ByScore {
		return f, badParam("cursor", "a cursor from a previous page of the same sort")
	}
	return f, nil
}
