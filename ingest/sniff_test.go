package ingest

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSniffTellsEveryTestdataFileApart sniffs every parser test file: each is read as the
// format of its folder. A bare MISP event (PyMISP's to_json()) was sniffed as native and
// rejected when pushed or validated without --format.
func TestSniffTellsEveryTestdataFileApart(t *testing.T) {
	for _, f := range []Format{FormatSTIX, FormatMISP, FormatNative} {
		files, _ := filepath.Glob(filepath.Join("..", "testdata", string(f), "*.json"))
		if len(files) == 0 {
			t.Fatalf("no testdata for %s", f)
		}
		for _, name := range files {
			base := filepath.Base(name)
			if base == "reject-not-misp.json" || base == "reject-not-stix.json" || base == "reject-html-not-json.json" ||
				base == "reject-empty-list.json" || base == "reject-html.json" {
				continue // what they are not is the point; [] and HTML say nothing of a format
			}
			doc, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if got := Sniff(doc); got != f {
				t.Errorf("%s sniffed as %s, want %s", name, got, f)
			}
		}
	}
}
