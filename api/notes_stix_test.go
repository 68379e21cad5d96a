package api

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cidcc/cop/internal/itest"
)

// stixValidator returns the OASIS stix2-validator's command from the reference clients'
// virtual environment (scripts/pyenv; itest.Python says when the test skips or fails).
func stixValidator(t *testing.T) string {
	t.Helper()
	return filepath.Join(filepath.Dir(itest.Python(t)), "stix2_validator")
}

// TestNotesExportIsValidSTIX exports a bundle with notes and opinions (and the matrix's
// events) and has the OASIS validator check it, references included.
func TestNotesExportIsValidSTIX(t *testing.T) {
	validator := stixValidator(t)
	st := openStore(t)
	m := &notesMatrix{historyMatrixData(t, st)}
	m.f = newFixture(t, st, notesIdentities(m.ex), nil)
	m.note(t, "analyst-1", "situation", m.sitID("green"), "", "AMBER", "V-AMBER")
	m.note(t, "analyst-1", "situation", m.sitID("anon"), "", "GREEN", "V-GREEN")
	q := m.window("")
	q.Set("format", "stix")
	status, body := m.get(t, m.f.tokens["analyst-1"], "/api/v1/events", q)
	if status != http.StatusOK || !strings.Contains(body, `"type":"note"`) || !strings.Contains(body, `"type":"opinion"`) {
		t.Fatalf("status %d, no note or opinion in the bundle: %.300s", status, body)
	}
	file := filepath.Join(t.TempDir(), "bundle.json")
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(validator, "--enforce-refs", file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "[+] STIX JSON: Valid") {
		t.Fatalf("stix2-validator: %v\n%s", err, out)
	}
	// Warnings remain, as for the events: ids are UUIDv5 (stable exports), custom x_cop_
	// properties are not extensions.
	t.Logf("stix2-validator: valid, %d warnings", strings.Count(string(out), "[!] Warning"))
}
