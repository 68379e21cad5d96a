package stix

import (
	"flag"
	"testing"

	"github.com/cidcc/cop/internal/parsertest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/stix")

var testSource = parsertest.Source

const testdataDir = "../../testdata/stix"

func TestGolden(t *testing.T) { parsertest.Golden(t, testdataDir, "ingest/stix", *update, Parse) }

// FuzzParse checks that no input panics and that every event Parse returns still
// validates, seeded from the golden samples.
func FuzzParse(f *testing.F) { parsertest.Fuzz(f, testdataDir, Parse) }
