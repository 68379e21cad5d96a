package event

import (
	"fmt"
	"slices"
	"strconv"
)

// Split validates ev and appends it to dst, or, when it has more observables than one
// event may hold (a report's IOC appendix), the parts that hold them all, losing none: the
// first keeps ev's source id, part k (k ≥ 2) has source id "<id>#k", so a redelivery gives
// the same ids. Every part carries the same context, markings and names; its title and
// summary say which part it is. The parsers of every format split through here.
func Split(dst []Event, ev Event, src Source) ([]Event, error) {
	n := (len(ev.Observables) + MaxObservables - 1) / MaxObservables
	if n <= 1 {
		if err := ev.Validate(); err != nil {
			return dst, err
		}
		return append(dst, ev), nil
	}
	parts := make([]Event, 0, n)
	all := ev.Observables
	for k := 1; k <= n; k++ {
		p := ev
		lo, hi := (k-1)*MaxObservables, min(k*MaxObservables, len(all))
		p.Observables = slices.Clone(all[lo:hi])
		if k > 1 {
			p.SourceID = ev.SourceID + "#" + strconv.Itoa(k)
			p.ID = src.EventID(p.SourceID)
		}
		p.Techniques, p.Sectors, p.Countries, p.Names = slices.Clone(ev.Techniques), slices.Clone(ev.Sectors), slices.Clone(ev.Countries), slices.Clone(ev.Names)
		suffix := fmt.Sprintf(" (part %d of %d)", k, n)
		p.Title = Cut(ev.Title, MaxTitleLen-len(suffix)) + suffix
		p.Summary = JoinSummary(ev.Summary, fmt.Sprintf("Part %d of %d: observables %d to %d of %d (at most %d per event).", k, n, lo+1, hi, len(all), MaxObservables))
		if err := p.Validate(); err != nil {
			return dst, err
		}
		parts = append(parts, p)
	}
	return append(dst, parts...), nil
}

// JoinSummary appends note to a summary on a line of its own, within MaxSummaryLen.
func JoinSummary(summary, note string) string {
	if summary == "" {
		return note
	}
	return Cut(summary+"\n"+note, MaxSummaryLen)
}
