package misp

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input panics and that every event Parse returns still
// validates, seeded from the golden samples.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(testdataDir, "*.json"))
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		evs, _ := Parse(doc, testSource)
		for i := range evs {
			if err := evs[i].Validate(); err != nil {
				t.Fatalf("event %s does not validate: %v", evs[i].SourceID, err)
			}
			if evs[i].Contributor != testSource.Contributor {
				t.Fatalf("contributor %q not from the Source", evs[i].Contributor)
			}
		}
	})
}
