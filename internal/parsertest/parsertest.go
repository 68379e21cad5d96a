// Package parsertest holds the checks every feed parser's tests share: golden files under
// testdata/<format> refreshed with -update, the invariants Parse promises of each event,
// and a fuzz target seeded from the golden inputs. Only tests import it.
package parsertest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
)

// ParseFunc is the signature every parser exports as Parse.
type ParseFunc func(doc []byte, src event.Source) ([]event.Event, []error)

// Source is the fixed source of every golden test, so outputs do not depend on the clock.
var Source = event.Source{
	Contributor: "ee-mil-cert",
	ReceivedAt:  time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
	IDKey:       []byte("golden-test id key, not a secret"),
}

// render writes one event per line as json.Marshal produces it, then "# error: " lines.
func render(evs []event.Event, errs []error) []byte {
	var b bytes.Buffer
	for _, ev := range evs {
		line, err := json.Marshal(ev)
		if err != nil {
			panic(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	for _, err := range errs {
		b.WriteString("# error: " + strings.ReplaceAll(err.Error(), "\n", "; ") + "\n")
	}
	return b.Bytes()
}

// Golden parses every dir/*.json and compares the output with its .golden.jsonl, or
// rewrites the golden files when update is set. pkg names the package in hints.
func Golden(t *testing.T, dir, pkg string, update bool, parse ParseFunc) {
	inputs, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs in %s: %v", dir, err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			doc, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			evs, errs := parse(doc, Source)
			CheckInvariants(t, evs)
			got := render(evs, errs)
			golden := strings.TrimSuffix(in, ".json") + ".golden.jsonl"
			if update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./%s -update)", err, pkg)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run go test ./%s -update and review the diff)\ngot:\n%s\nwant:\n%s", golden, pkg, got, want)
			}
		})
	}
}

// CheckInvariants asserts what Parse promises of every event it returns.
func CheckInvariants(t *testing.T, evs []event.Event) {
	t.Helper()
	for i := range evs {
		ev := evs[i]
		if ev.Contributor != Source.Contributor || !ev.ReceivedAt.Equal(Source.ReceivedAt) {
			t.Errorf("event %s: contributor/received_at not from the Source", ev.SourceID)
		}
		if ev.ID != Source.EventID(ev.SourceID) {
			t.Errorf("event %s: id is not Source.EventID(source id)", ev.SourceID)
		}
		if err := ev.Validate(); err != nil {
			t.Errorf("event %s does not validate: %v", ev.SourceID, err)
		}
	}
}

// Fuzz checks that no input panics parse and that every event it returns still validates
// and carries the source's contributor, seeded from dir/*.json.
func Fuzz(f *testing.F, dir string, parse ParseFunc) {
	seeds, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		evs, _ := parse(doc, Source)
		for i := range evs {
			if err := evs[i].Validate(); err != nil {
				t.Fatalf("event %s does not validate: %v", evs[i].SourceID, err)
			}
			if evs[i].Contributor != Source.Contributor {
				t.Fatalf("contributor %q not from the Source", evs[i].Contributor)
			}
		}
	})
}
