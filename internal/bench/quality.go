package bench

import (
	"flag"
	"fmt"
	"os"

	"github.com/cidcc/cop/api"
	"github.com/cidcc/cop/internal/groundtruth"
	"github.com/cidcc/cop/internal/heldout"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/warninglist"
)

// runQuality is `cop bench quality`: the picture measured against ground truth
// (internal/groundtruth, docs/quality.md).
func runQuality(args []string, h Host) error {
	fs := flag.NewFlagSet("bench quality", flag.ContinueOnError)
	n := fs.Int("events", 100_000, "labelled events to generate (over a simulated hour)")
	seed := fs.Uint64("seed", 1, "scenario seed")
	batch := fs.Int("batch", 5000, "events per engine batch")
	patterns := fs.Duration("patterns", 0, "link situations of the same category, techniques and sector within this window (picture.CampaignConfig.PatternWindow; 0: off, the default)")
	common := fs.Bool("warninglist", true, "give the engine and the campaign grouping the scenario's hubs as their warning list (correlate.Config.Common), as the demo runs and a deployment with MISP's warning lists would; --warninglist=false measures without")
	file := fs.String("scenario", "", "a hand-written labelled scenario (testdata/heldout/*.scn) instead of the generator; --events and --seed are then the file's")
	top := fs.Int("view-top", api.DefaultViewTop, "the websocket bound whose snapshots are measured against the whole picture's (cop serve --view-top)")
	detail := fs.Bool("detail", false, "also print, per true campaign, how many COP campaigns, standalone situations and background cells hold its events")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *batch < 1 {
		return fmt.Errorf("--events and --batch: want at least 1, got %d and %d", *n, *batch)
	}
	options := func(t groundtruth.Truth) groundtruth.MeasureOptions {
		o := groundtruth.MeasureOptions{Campaigns: picture.CampaignConfig{PatternWindow: *patterns}}
		if *common {
			// As cop serve runs: its built-in lists, and the scenario's hubs as a
			// deployment's own list names them.
			o.Common = append(warninglist.BuiltinValues(), t.Hubs...)
		}
		return o
	}
	if *file != "" {
		f, err := os.Open(*file)
		if err != nil {
			return fmt.Errorf("--scenario: %w", err)
		}
		defer f.Close()
		events, truth, err := heldout.Load(f, []byte("cop bench quality"))
		if err != nil {
			return fmt.Errorf("--scenario %s: %w", *file, err)
		}
		r := groundtruth.MeasureWith(events, truth, h.Viewers, *batch, options(truth))
		fmt.Printf("cop bench quality --scenario %s\n", *file)
		if err := r.WriteTable(os.Stdout); err != nil || !*detail {
			return err
		}
		return r.WriteDetail(os.Stdout)
	}
	events, truth, err := groundtruth.Generate(groundtruth.Options{Events: *n, Seed: *seed, IDKey: []byte("cop bench quality")})
	if err != nil {
		return err
	}
	o := options(truth)
	r, live := groundtruth.MeasurePicture(events, truth, h.Viewers, *batch, o)
	fmt.Printf("cop bench quality --events %d --seed %d --view-top %d\n", *n, *seed, *top)
	if err := r.WriteTable(os.Stdout); err != nil {
		return err
	}
	if *detail {
		if err := r.WriteDetail(os.Stdout); err != nil {
			return err
		}
	}
	if *top < 1 {
		return nil
	}
	return writeSnapshots(os.Stdout, measureSnapshots(live, h.Viewers, *top, picture.CampaignConfig{PatternWindow: *patterns, Common: o.Common}), *top)
}
