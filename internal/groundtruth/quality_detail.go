package groundtruth

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/cidcc/cop/internal/picture"
)

// TrueDetail is where one true campaign's events ended up in the condensed picture: how
// many COP campaigns, standalone situations and background cells hold them, and the share
// of its events in the one item holding most. `cop bench quality --detail` prints it, so
// that a fragmentation figure can be traced to the campaign that makes it.
type TrueDetail struct {
	ID                                string
	Events                            int
	Campaigns, Standalone, Background int
	// Largest is the share of its events in the item holding most of them.
	Largest float64
}

// Top is one commander view's ten best situations, each with the true campaign most of
// its events belong to ("noise" for none).
type Top struct {
	Viewer, Mission string
	Rows            []TopRow
}

// TopRow is one situation of a Top.
type TopRow struct {
	Truth, Title, Severity string
	Score, Rank            float64
	Countries, Sectors     []string
}

func (r *Report) tops(viewer, mission string, top []*picture.Situation, comps map[string]*composition, cs []Campaign) {
	t := Top{Viewer: viewer, Mission: mission}
	for _, s := range top {
		row := TopRow{Truth: "noise", Title: s.Title, Severity: s.Severity.String(), Score: s.Score, Rank: s.Rank, Countries: s.Countries, Sectors: s.Sectors}
		if ci, ok := comps[s.ID].majority(); ok {
			row.Truth = cs[ci].ID
		}
		t.Rows = append(t.Rows, row)
	}
	r.Tops = append(r.Tops, t)
}

// detail fills r.Detail from each item's events per true campaign (item id → campaign
// index → events).
func (r *Report) detail(ids []string, items map[string]map[int]int) {
	for ci, id := range ids {
		d := TrueDetail{ID: id}
		best := 0
		for item, per := range items {
			n := per[ci]
			if n == 0 {
				continue
			}
			d.Events += n
			best = max(best, n)
			switch {
			case strings.HasPrefix(item, "campaign-"):
				d.Campaigns++
			case strings.HasPrefix(item, "background "):
				d.Background++
			default:
				d.Standalone++
			}
		}
		if d.Events == 0 {
			continue
		}
		d.Largest = float64(best) / float64(d.Events)
		r.Detail = append(r.Detail, d)
	}
	slices.SortFunc(r.Detail, func(a, b TrueDetail) int { return strings.Compare(a.ID, b.ID) })
}

// WriteDetail prints r.Detail as a table.
func (r *Report) WriteDetail(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%-24s %8s %10s %11s %11s %8s\n", "true campaign", "events", "campaigns", "standalone", "background", "largest")
	for _, d := range r.Detail {
		fmt.Fprintf(&b, "%-24s %8d %10d %11d %11d %7.0f%%\n", d.ID, d.Events, d.Campaigns, d.Standalone, d.Background, 100*d.Largest)
	}
	fmt.Fprintf(&b, "\nthe 20 best scores:")
	for _, x := range r.Top20 {
		fmt.Fprintf(&b, " %.1f", x)
	}
	b.WriteString("\n")
	for _, t := range r.Tops {
		fmt.Fprintf(&b, "\ntop ten of %s %s: truth, score, rank, severity, countries, sectors, title\n", t.Viewer, t.Mission)
		for _, row := range t.Rows {
			fmt.Fprintf(&b, "  %-10s %5.1f %5.1f %-8s %-12s %-28s %s\n", row.Truth, row.Score, row.Rank, row.Severity,
				strings.Join(row.Countries, ","), strings.Join(row.Sectors, ","), row.Title)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
