package event

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on a single event, so one hostile contribution cannot exhaust memory downstream.
const (
	MaxObservables = 1000
	MaxListLen     = 64
	MaxTitleLen    = 512
	MaxSummaryLen  = 16 << 10
	MaxIDLen       = 256
	MaxNames       = 64  // stated names (campaigns, intrusion sets, actors, malware, tools)
	MaxNameLen     = 128 // bytes of one stated name, after normalisation
	// MaxFutureSkew is how far in the future observed_at may lie (clock skew between
	// contributors), measured against received_at.
	MaxFutureSkew = 24 * time.Hour
)

// Validate normalises e in place (observables, case of codes and names, duplicate list
// entries) and checks every field against DESIGN.md's canonical event. It returns all
// problems found, each a *FieldError, joined; nil means e may enter the pipeline.
func (e *Event) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if e.Contributor == "" {
		bad("contributor", "missing (set from the authenticated identity)")
	}
	if e.SourceID == "" {
		bad("id", "missing: every report needs the contributor's own id")
	} else if len(e.SourceID) > MaxIDLen {
		bad("id", "longer than %d bytes", MaxIDLen)
	}
	if e.Kind == 0 || e.Kind > KindReport {
		bad("kind", "missing: want one of indicator, sighting, incident, report")
	}
	if e.ReceivedAt.IsZero() {
		bad("received_at", "missing")
	}
	switch {
	case e.ObservedAt.IsZero():
		bad("observed_at", "missing: want an RFC 3339 time")
	case !e.ReceivedAt.IsZero() && e.ObservedAt.After(e.ReceivedAt.Add(MaxFutureSkew)):
		bad("observed_at", "%s is more than %s after reception", e.ObservedAt.Format(time.RFC3339), MaxFutureSkew)
	case e.ObservedAt.Year() < 1990:
		bad("observed_at", "%s is before 1990", e.ObservedAt.Format(time.RFC3339))
	}
	if !e.ValidUntil.IsZero() && !e.ObservedAt.IsZero() && e.ValidUntil.Before(e.ObservedAt) {
		bad("valid_until", "before observed_at")
	}
	if len(e.Observables) > MaxObservables {
		bad("observables", "%d observables, at most %d", len(e.Observables), MaxObservables)
	} else {
		e.Observables = normaliseObservables(e.Observables, bad)
	}
	if e.Category != "" {
		e.Category = strings.ToLower(strings.TrimSpace(e.Category))
		if !IsCategory(e.Category) {
			// A term outside the taxonomy does not cost the event: what has a clear
			// equivalent is mapped, and the contributor's own term stays in the summary.
			term := e.Category
			mapped, ok := MapCategory(term)
			note := "Contributor's category " + Quote(term) + " is not in the Reference Security Incident Taxonomy"
			if ok {
				note += "; mapped to " + mapped + "."
			} else {
				note += "; no equivalent, kept here only."
			}
			e.Category = mapped
			e.Summary = appendNote(e.Summary, note)
		}
	}
	e.Techniques = cleanList(e.Techniques, strings.ToUpper, IsTechnique, "techniques", "a MITRE ATT&CK id such as T1566 or T1566.001", bad)
	e.Names = normaliseNames(e.Names, bad)
	e.Sectors = cleanList(e.Sectors, strings.ToLower, IsSector, "sectors", "a NIS2 sector such as energy or submarine-cable", bad)
	e.Countries = cleanList(e.Countries, strings.ToUpper, IsCountry, "countries", "an ISO 3166-1 alpha-2 code such as EE", bad)
	e.ReleasableTo = cleanList(e.ReleasableTo, strings.ToUpper, isName, "releasable_to", "an organisation or mission name", bad)
	if e.Geo != nil {
		if math.IsNaN(e.Geo.Lat) || e.Geo.Lat < -90 || e.Geo.Lat > 90 || math.IsNaN(e.Geo.Lon) || e.Geo.Lon < -180 || e.Geo.Lon > 180 {
			bad("geo", "lat must be in [-90, 90] and lon in [-180, 180]")
		}
	}
	if e.Severity == 0 || e.Severity > SeverityCritical {
		bad("severity", "missing: want one of info, low, medium, high, critical")
	}
	if e.Confidence > 100 {
		bad("confidence", "%d is above 100", e.Confidence)
	}
	if e.TLP == 0 || e.TLP > TLPRed {
		bad("tlp", "missing: want one of CLEAR, GREEN, AMBER, AMBER+STRICT, RED")
	}
	if e.Exercise != "" {
		e.Exercise = strings.ToUpper(e.Exercise)
		if !isName(e.Exercise) {
			bad("exercise", "%s: want letters, digits, '-' and '_' only, at most 64", Quote(e.Exercise))
		}
	}
	e.Title = strings.TrimSpace(e.Title)
	if e.Title == "" && len(e.Observables) == 0 {
		bad("title", "missing: an event needs a title or at least one observable")
	}
	checkText := func(field, s string, max int) {
		if len(s) > max {
			bad(field, "%d bytes, at most %d", len(s), max)
		} else if !utf8.ValidString(s) {
			bad(field, "not valid UTF-8")
		}
	}
	checkText("title", e.Title, MaxTitleLen)
	checkText("summary", e.Summary, MaxSummaryLen)
	checkText("id", e.SourceID, MaxIDLen)
	return errors.Join(errs...)
}

func normaliseObservables(obs []Observable, bad func(field, format string, args ...any)) []Observable {
	out := obs[:0]
	// Duplicates by a scan of what is kept while there are few, by a set past that: an IOC
	// appendix of 1,000 observables was a million comparisons.
	var seen map[Observable]struct{}
	for i, o := range obs {
		n, err := NewObservable(o.Type, o.Value)
		if err != nil {
			bad(fmt.Sprintf("observables[%d]", i), "%v", err)
			continue
		}
		if len(obs) > 16 {
			if seen == nil {
				seen = make(map[Observable]struct{}, len(obs))
			}
			if _, dup := seen[n]; dup {
				continue
			}
			seen[n] = struct{}{}
		} else if slices.Contains(out, n) {
			continue
		}
		out = append(out, n)
	}
	return out
}

// appendNote adds a sentence to a summary, cutting the summary (not the note) to stay
// within MaxSummaryLen.
func appendNote(summary, note string) string {
	if summary == "" {
		return Truncate(note, MaxSummaryLen)
	}
	return Truncate(summary, MaxSummaryLen-len(note)-1) + "\n" + note
}

func normaliseNames(ns []Name, bad func(field, format string, args ...any)) []Name {
	if len(ns) > MaxNames {
		bad("names", "%d names, at most %d", len(ns), MaxNames)
		return nil
	}
	out := ns[:0]
	for i, n := range ns {
		n.Kind = strings.ToLower(strings.TrimSpace(n.Kind))
		n.Name = NormaliseName(n.Name)
		switch {
		case !slices.Contains(NameKinds, n.Kind):
			bad(fmt.Sprintf("names[%d].kind", i), "%s: want one of %s", Quote(n.Kind), strings.Join(NameKinds, ", "))
			continue
		case n.Name == "":
			bad(fmt.Sprintf("names[%d].name", i), "missing: want the name of the %s", n.Kind)
			continue
		case len(n.Name) > MaxNameLen:
			bad(fmt.Sprintf("names[%d].name", i), "%d bytes, at most %d", len(n.Name), MaxNameLen)
			continue
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// NormaliseName is how Validate normalises a stated name: trimmed, every run of white
// space (and control characters) one space, case folded to lower case; invalid UTF-8
// becomes U+FFFD.
func NormaliseName(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

func cleanList(xs []string, fold func(string) string, ok func(string) bool, field, want string, bad func(field, format string, args ...any)) []string {
	if len(xs) > MaxListLen {
		bad(field, "%d entries, at most %d", len(xs), MaxListLen)
		return nil
	}
	out := xs[:0]
	for i, x := range xs {
		x = fold(strings.TrimSpace(x))
		if !ok(x) {
			bad(fmt.Sprintf("%s[%d]", field, i), "%s: want %s", Quote(x), want)
			continue
		}
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// IsTechnique reports whether s is a MITRE ATT&CK technique id (T1566 or T1566.001), the
// form Validate accepts; parsers use it to drop tactics and typos before validation.
func IsTechnique(s string) bool {
	// T1234 or T1234.001
	if len(s) != 5 && len(s) != 9 || s[0] != 'T' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if i == 5 {
			if s[i] != '.' {
				return false
			}
			continue
		}
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
