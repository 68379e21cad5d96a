package stix

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/stix")

// testSource is the fixed Source of every golden test, so outputs do not depend on the clock.
var testSource = event.Source{
	Contributor: "ee-mil-cert",
	ReceivedAt:  time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
}

const testdataDir = "../../testdata/stix"

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

func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join(testdataDir, "*.json"))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs in %s: %v", testdataDir, err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			doc, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			evs, errs := Parse(doc, testSource)
			checkInvariants(t, evs)
			got := render(evs, errs)
			golden := strings.TrimSuffix(in, ".json") + ".golden.jsonl"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./ingest/stix -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run go test ./ingest/stix -update and review the diff)\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

// checkInvariants asserts what Parse promises of every event it returns.
func checkInvariants(t *testing.T, evs []event.Event) {
	t.Helper()
	for i := range evs {
		ev := evs[i]
		if ev.Contributor != testSource.Contributor || !ev.ReceivedAt.Equal(testSource.ReceivedAt) {
			t.Errorf("event %s: contributor/received_at not from the Source", ev.SourceID)
		}
		if ev.ID != event.NewID(testSource.Contributor, ev.SourceID) {
			t.Errorf("event %s: id is not NewID(contributor, source id)", ev.SourceID)
		}
		if err := ev.Validate(); err != nil {
			t.Errorf("event %s does not validate: %v", ev.SourceID, err)
		}
	}
}
