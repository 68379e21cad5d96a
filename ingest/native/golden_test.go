package native_test

import (
	"flag"
	"testing"

	"github.com/cidcc/cop/ingest/native"
	"github.com/cidcc/cop/internal/parsertest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/native")

const testdataDir = "../../testdata/native"

func TestGolden(t *testing.T) {
	parsertest.Golden(t, testdataDir, "ingest/native", *update, native.Parse)
}
