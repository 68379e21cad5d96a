package bench

import (
	"flag"
	"fmt"
	"os"

	"github.com/cidcc/cop/api"
	"github.com/cidcc/cop/internal/groundtruth"
)

// runQuality is `cop bench quality`: the picture measured against ground truth
// (internal/groundtruth, docs/quality.md).
func runQuality(args []string, h Host) error {
	fs := flag.NewFlagSet("bench quality", flag.ContinueOnError)
	n := fs.Int("events", 100_000, "labelled events to generate (over a simulated hour)")
	seed := fs.Uint64("seed", 1, "scenario seed")
	batch := fs.Int("batch", 5000, "events per engine batch")
	top := fs.Int("view-top", api.DefaultViewTop, "the websocket bound whose snapshots are measured against the whole picture's (cop serve --view-top)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *batch < 1 {
		return fmt.Errorf("--events and --batch: want at least 1, got %d and %d", *n, *batch)
	}
	events, truth, err := groundtruth.Generate(groundtruth.Options{Events: *n, Seed: *seed, IDKey: []byte("cop bench quality")})
	if err != nil {
		return err
	}
	r, live := groundtruth.MeasurePicture(events, truth, h.Viewers, *batch)
	fmt.Printf("cop bench quality --events %d --seed %d --view-top %d\n", *n, *seed, *top)
	if err := r.WriteTable(os.Stdout); err != nil {
		return err
	}
	if *top < 1 {
		return nil
	}
	return writeSnapshots(os.Stdout, measureSnapshots(live, h.Viewers, *top), *top)
}
