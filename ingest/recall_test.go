package ingest_test

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/ingest/misp"
	"github.com/cidcc/cop/ingest/stix"
	"github.com/cidcc/cop/internal/event"
)

// TestRecallAgainstReferenceParsers measures, on public files, COP's observables against
// the reference parsers' view of the same files: recall (the share of the distinct
// observables the reference sees that COP emits) and precision (the share of COP's that
// the reference sees). Each testdata/public/<format>/<name>.json has its reference view in
// <name>.reference.tsv, written by scripts/reference-observables.py with OASIS stix2 and
// stix2-patterns or CIRCL PyMISP (testdata/public/README.md); both sides are normalised
// by event.NewObservable, and a reference value that is not a valid observable of its type
// is counted apart, not missed. These files must reach 1.00 and 1.00: a construct COP
// reads stays read. COP_RECALL_CORPUS names another directory of the same layout (stix/,
// misp/), measured and logged, not held to a bound.
func TestRecallAgainstReferenceParsers(t *testing.T) {
	parsers := map[string]func([]byte, event.Source) ([]event.Event, []error){"stix": stix.Parse, "misp": misp.Parse}
	measure := func(root string, strict bool) {
		for _, format := range []string{"stix", "misp"} {
			refs, _ := filepath.Glob(filepath.Join(root, format, "*.reference.tsv"))
			var total recall
			for _, ref := range refs {
				doc, err := os.ReadFile(strings.TrimSuffix(ref, ".reference.tsv") + ".json")
				if err != nil {
					t.Fatal(err)
				}
				r := measureFile(t, parsers[format], doc, ref)
				t.Logf("%s %s: recall %s precision %s (%d reference, %d invalid in it, %d COP)%s",
					format, filepath.Base(ref), r.recall(), r.precision(), r.ref, r.invalid, r.got, r.detail())
				if strict && (r.hits != r.ref || r.hits != r.got) {
					t.Errorf("%s: recall %s precision %s, want 1.00 and 1.00:%s", ref, r.recall(), r.precision(), r.detail())
				}
				total.add(r)
			}
			if len(refs) > 0 {
				t.Logf("%s %s, %d files: recall %s (%d of %d) precision %s (%d of %d), %d invalid reference values",
					root, format, len(refs), total.recall(), total.hits, total.ref, total.precision(), total.hits, total.got, total.invalid)
			}
		}
	}
	measure(filepath.Join("..", "testdata", "public"), true)
	if dir := os.Getenv("COP_RECALL_CORPUS"); dir != "" {
		measure(dir, false)
	}
}

type recall struct {
	ref, got, hits, invalid int
	missed, extra           []string
}

func (r *recall) add(o recall) {
	r.ref, r.got, r.hits, r.invalid = r.ref+o.ref, r.got+o.got, r.hits+o.hits, r.invalid+o.invalid
}

func formatFixed(f float64) string {
	return strconv.FormatFloat(f, 'f', 2, 64)
}

func (r recall) recall() string    { return ratio2(r.hits, r.ref) }
func (r recall) precision() string { return ratio2(r.hits, r.got) }

func ratio2(a, b int) string {
	if b == 0 {
		return "-"
	}
	return formatFixed(float64(a) / float64(b))
}

func (r recall) detail() string {
	s := ""
	if len(r.missed) > 0 {
		s += " missed " + strings.Join(r.missed, " ")
	}
	if len(r.extra) > 0 {
		s += " not in the reference " + strings.Join(r.extra, " ")
	}
	return s
}

func measureFile(t *testing.T, parse func([]byte, event.Source) ([]event.Event, []error), doc []byte, refFile string) recall {
	t.Helper()
	b, err := os.ReadFile(refFile)
	if err != nil {
		t.Fatal(err)
	}
	var r recall
	want := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		typ, value, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			continue
		}
		ot, err := event.ParseObservableType(typ)
		if err != nil {
			t.Fatalf("%s: type %q", refFile, typ)
		}
		o, err := event.NewObservable(ot, value)
		if err != nil {
			r.invalid++
			continue
		}
		want[o.String()] = true
	}
	evs, _ := parse(doc, event.Source{Contributor: "recall", ReceivedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	got := map[string]bool{}
	for _, e := range evs {
		for _, o := range e.Observables {
			got[o.String()] = true
		}
	}
	r.ref, r.got = len(want), len(got)
	for o := range want {
		if got[o] {
			r.hits++
		} else {
			r.missed = append(r.missed, o)
		}
	}
	for o := range got {
		if !want[o] {
			r.extra = append(r.extra, o)
		}
	}
	slices.Sort(r.missed)
	slices.Sort(r.extra)
	return r
}
