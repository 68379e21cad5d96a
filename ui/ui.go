// Package ui holds the commander's dashboard: static files embedded in the binary, with
// every library vendored under static/vendor, so the page works on a closed network. It
// must not fetch anything from the internet.
package ui

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Files returns the dashboard's files, rooted at static/.
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic("BUG: embedded ui/static missing: " + err.Error())
	}
	return sub
}
