// Command composecheck loads a Compose file with compose-go, the library `docker compose`
// itself uses: the Compose Specification's JSON schema, interpolation and the semantic
// checks (undefined networks, volumes, secrets, configs, depends_on targets). It is what
// `docker compose config` checks, without a Docker engine. deploy/validate runs it.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: composecheck docker-compose.yml")
		os.Exit(2)
	}
	file := os.Args[1]
	opts, err := cli.NewProjectOptions([]string{file}, cli.WithName("cop"), cli.WithOsEnv, cli.WithInterpolation(true))
	if err != nil {
		fail(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	dir := filepath.Dir(file)
	var missing []string
	check := func(kind, name, path string) {
		if path == "" {
			return
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		if _, err := os.Stat(path); err != nil {
			missing = append(missing, fmt.Sprintf("%s %s: %s", kind, name, path))
		}
	}
	for n, c := range p.Configs {
		check("config", n, c.File)
	}
	// Secrets are not checked: deploy/tls/gen-certs makes them, outside the repository.
	if len(missing) > 0 {
		sort.Strings(missing)
		for _, m := range missing {
			fmt.Fprintln(os.Stderr, "missing", m)
		}
		os.Exit(1)
	}
	fmt.Printf("%s: valid (%d services, %d networks, %d volumes, %d configs, %d secrets)\n",
		file, len(p.Services), len(p.Networks), len(p.Volumes), len(p.Configs), len(p.Secrets))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "invalid:", err)
	os.Exit(1)
}
