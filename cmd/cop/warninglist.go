package main

import (
	"fmt"
	"os"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/warninglist"
)

// loadWarningList reads the MISP warning list at path (--warninglist) and says what it
// kept (internal/warninglist).
func loadWarningList(path string) ([]event.Observable, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("--warninglist: %w", err)
	}
	l, err := warninglist.Parse(b)
	if err != nil {
		return nil, "", fmt.Errorf("--warninglist %s: %w", path, err)
	}
	return l.Values, l.Summary(path), nil
}

// loadGalaxy adds the actors of the MISP galaxy cluster at path to a (--galaxy).
func loadGalaxy(a picture.Aliases, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--galaxy: %w", err)
	}
	n, err := a.ReadGalaxy(b)
	if err != nil {
		return "", fmt.Errorf("--galaxy %s: %w", path, err)
	}
	return fmt.Sprintf("galaxy %s: %d actors and their synonyms", path, n), nil
}
