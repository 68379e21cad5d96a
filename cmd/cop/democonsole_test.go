package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// The demo's console shows a summary of dead letters by reason, not every JSON warning;
// every line still reaches the log file, and errors reach the console as they come.
func TestDemoConsoleSummarisesDeadLettersAndKeepsEveryLineInTheFile(t *testing.T) {
	var file, term bytes.Buffer
	d := newDemoConsole(&file, &term, ".cop/demo/cop.log")
	log := newLoggerTo(d, "serve")
	for i := range 9 {
		log.Warn().Int("offset", i).Str("reason", "event 0: id : observables[0]: invalid observable ipv4 : not an IP address\ntitle: missing").Msg("dead letter")
	}
	for range 3 {
		log.Warn().Str("reason", "event 0: tlp: unknown value : want one of CLEAR, GREEN").Msg("dead letter")
	}
	log.Warn().Msg("slow insert")
	if term.Len() != 0 {
		t.Errorf("warnings reached the console: %q", term.String())
	}
	if n := strings.Count(file.String(), "\n"); n != 13 {
		t.Errorf("log file has %d lines, want 13", n)
	}
	got := d.Summary(10 * time.Second)
	for _, want := range []string{"12 dead letters in the last 10s: ", "9 'observables[]: invalid observable ipv4', 3 'tlp: unknown value'",
		"; 1 other warning; details in .cop/demo/cop.log"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary %q lacks %q", got, want)
		}
	}
	if again := d.Summary(10 * time.Second); again != "" {
		t.Errorf("a second summary with nothing new: %q", again)
	}
	log.Error().Str("error", "connection refused").Msg("cannot insert")
	if !strings.Contains(term.String(), "error: cannot insert: connection refused (details in .cop/demo/cop.log)") {
		t.Errorf("an error did not reach the console: %q", term.String())
	}
}

func TestReasonKindGroupsAlikeReasons(t *testing.T) {
	f := func(reason, want string) {
		t.Helper()
		if got := reasonKind(reason); got != want {
			t.Errorf("reasonKind(%q) = %q, want %q", reason, got, want)
		}
	}
	f("event 0: malformed JSON: unexpected EOF (the document is cut short)", "malformed JSON: unexpected EOF")
	f("event 3: id : severity: missing: want one of info, low", "severity: missing")
	f("document is not valid UTF-8 (first bad byte at offset 22)", "document is not valid UTF-8")
	f("3 rejected; first: event 7: tlp: unknown value : want one of CLEAR", "tlp: unknown value")
	f("", "no reason given")
	f(strings.Repeat("x", 60), strings.Repeat("x", 47)+"…")
}
