package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/cidcc/cop/internal/keys"
)

// runKeys serves `cop keys rotate`: fresh pseudonym keys (and id keys with --ids) in the
// key file that every process of the deployment reads.
func runKeys(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "rotate" {
		return errors.New("usage: cop keys rotate [--keys FILE] [--ids]")
	}
	fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
	path := fs.String("keys", env("COP_KEYS_FILE", defaultKeysFile), "the key file serve reads (--keys of serve)")
	ids := fs.Bool("ids", false, "renew the event id key too: reports re-sent after this are recognised as duplicates by content only (within the engine's fingerprint window)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if _, err := keys.Open(*path); err != nil { // creates the file on a deployment never started
		return err
	}
	set, err := keys.Rotate(*path, *ids)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "keys rotated in %s (pseudonyms since %s, ids since %s); send SIGHUP to every running cop, or restart it, to use them\n",
		*path, set.Pseudonyms.Created.Format("2006-01-02T15:04:05Z"), set.IDs.Created.Format("2006-01-02T15:04:05Z"))
	return nil
}
