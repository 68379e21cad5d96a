package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// demoConsole is where the demo's JSON logs go: every line into the log file, and onto the
// terminal only what a person watching it needs. Dead letters (the demo sends malformed
// messages on purpose, hundreds in a few minutes) are counted by reason and summarised at
// most once per period by Summary; errors are shown as they come (rare, and they matter).
type demoConsole struct {
	file    io.Writer // every line
	console io.Writer // errors, and the summaries the caller prints
	path    string    // the log file's name, for the summary

	mu      sync.Mutex // guards what follows
	letters map[string]int
	warns   int
}

func newDemoConsole(file, console io.Writer, path string) *demoConsole {
	return &demoConsole{file: file, console: console, path: path, letters: map[string]int{}}
}

// Write takes one zerolog line.
func (d *demoConsole) Write(p []byte) (int, error) {
	var l struct {
		Level, Message, Reason string
		Error                  string `json:"error"`
	}
	json.Unmarshal(p, &l)
	d.mu.Lock()
	n, err := d.file.Write(p)
	switch {
	case l.Message == "dead letter":
		d.letters[reasonKind(l.Reason)]++
	case l.Level == "warn":
		d.warns++
	}
	d.mu.Unlock()
	if l.Level == "error" || l.Level == "fatal" || l.Level == "panic" {
		msg := l.Message
		if l.Error != "" {
			msg += ": " + l.Error
		}
		fmt.Fprintf(d.console, "%s  error: %s (details in %s)\n", time.Now().Format("15:04:05"), msg, d.path)
	}
	return n, err
}

// Summary returns one line on the dead letters and other warnings logged since the last
// call, the most frequent reasons first, or "" when there were none; it resets the counts.
func (d *demoConsole) Summary(period time.Duration) string {
	d.mu.Lock()
	letters, warns := d.letters, d.warns
	d.letters, d.warns = map[string]int{}, 0
	d.mu.Unlock()
	total := 0
	kinds := make([]string, 0, len(letters))
	for k, n := range letters {
		kinds = append(kinds, k)
		total += n
	}
	if total == 0 && warns == 0 {
		return ""
	}
	sort.Slice(kinds, func(i, j int) bool {
		if letters[kinds[i]] != letters[kinds[j]] {
			return letters[kinds[i]] > letters[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %d dead letter%s in the last %s", time.Now().Format("15:04:05"), total, plural(total), period)
	for i, k := range kinds {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(", ")
		}
		if i == 3 {
			fmt.Fprintf(&b, "%d other", total-shown(letters, kinds[:3]))
			break
		}
		fmt.Fprintf(&b, "%d '%s'", letters[k], k)
	}
	if warns > 0 {
		fmt.Fprintf(&b, "; %d other warning%s", warns, plural(warns))
	}
	fmt.Fprintf(&b, "; details in %s", d.path)
	return b.String()
}

func shown(counts map[string]int, kinds []string) int {
	n := 0
	for _, k := range kinds {
		n += counts[k]
	}
	return n
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// reasonKind shortens a dead letter's reason to what groups alike ones: the summary of
// several reasons ("3 rejected; first: …") reads as its first; the element ("event 3: ",
// "id …: ", "[0]") goes, and the text keeps the field and what is wrong with it (two
// colon-separated parts, before any parenthesis or second line), 48 runes at most.
func reasonKind(reason string) string {
	if _, first, ok := strings.Cut(reason, "first: "); ok {
		reason = first
	}
	reason, _, _ = strings.Cut(reason, "\n")
	if i := strings.Index(reason, "("); i > 0 {
		reason = reason[:i]
	}
	var b strings.Builder
	skip := false
	for _, r := range reason {
		switch {
		case r == '[':
			skip = true
		case r == ']':
			skip = false
			b.WriteString("[]")
		case !skip:
			b.WriteRune(r)
		}
	}
	parts := strings.Split(b.String(), ":")
	for len(parts) > 1 {
		p := strings.TrimSpace(parts[0])
		if w := strings.Fields(p); p == "id" || len(w) >= 1 && (w[0] == "event" || w[0] == "element" || w[0] == "id") {
			parts = parts[1:]
			continue
		}
		break
	}
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	reason = strings.Join(parts[:min(2, len(parts))], ": ")
	if reason == "" {
		return "no reason given"
	}
	const max = 48
	if utf8.RuneCountInString(reason) > max {
		reason = string([]rune(reason)[:max-1]) + "…"
	}
	return reason
}

// demoEnvPath is where a running demo writes its addresses (writeDemoEnv), under the
// default state directory.
const demoEnvPath = ".cop/demo/env"

// writeDemoEnv writes the running demo's addresses as shell assignments, for
// `. .cop/demo/env` and for the commands that default to them (demoDefault).
func writeDemoEnv(path, addr string, c *demoConfig) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# the addresses of the running `cop demo` (removed when it stops): . %s\n", path)
	for _, kv := range [][2]string{{"COP_URL", "http://" + addr}, {"COP_KAFKA", c.Kafka},
		{"COP_CLICKHOUSE", c.ClickHouse}, {"COP_CH_DATABASE", c.Backends.CHDatabase}} {
		fmt.Fprintf(&b, "export %s=%s\n", kv[0], kv[1])
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("cannot write the demo's addresses: %w", err)
	}
	return nil
}

// demoDefault is the default of a command's flag that the environment variable name
// sets: that variable, else the value a running demo wrote in .cop/demo/env (so `cop
// exercise gen --push` and `cop replay` reach the demo's embedded broker), else def.
func demoDefault(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	b, err := os.ReadFile(demoEnvPath)
	if err != nil {
		return def
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "export "+name+"="); ok && v != "" {
			return v
		}
	}
	return def
}
