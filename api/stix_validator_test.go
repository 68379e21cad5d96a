package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cidcc/cop/internal/itest"
)

// validateSTIX runs the OASIS validator on doc and fails on every error it reports
// (warnings are the spec's SHOULDs: logged, not failed).
func validateSTIX(t *testing.T, py, name string, doc []byte) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "bundle.json")
	if err := os.WriteFile(f, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	script := `import sys, stix2validator as v
r = v.validate_file(sys.argv[1], v.ValidationOptions(version="2.1"))
for o in r.object_results:
    for e in o.errors: print("ERROR", o.object_id, e)
    for w in o.warnings: print("WARNING", o.object_id, w)
for e in getattr(r, "fatal", None) and [r.fatal] or []: print("ERROR", e)
print("VALID" if r.is_valid else "INVALID")`
	out, err := exec.Command(py, "-c", script, f).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: the validator did not run: %v\n%s", name, err, out)
	}
	if bytes.Contains(out, []byte("ERROR")) || !bytes.HasSuffix(bytes.TrimSpace(out), []byte("VALID")) || bytes.Contains(out, []byte("INVALID")) {
		t.Errorf("%s: the OASIS stix2-validator reports errors:\n%s", name, out)
	} else {
		t.Logf("%s: valid; %d warnings", name, bytes.Count(out, []byte("WARNING")))
	}
}

// Every STIX 2.1 document COP serves — the export bundle and a TAXII page of objects, with
// events of every kind, names of every kind and their relationships — passes the OASIS
// stix2-validator with no error.
func TestSTIXExportPassesTheOASISValidator(t *testing.T) {
	py := itest.Python(t) // the reference clients' venv (scripts/pyenv) holds the validator
	env := newHistoryEnv(t)
	namedKinds(t, env)
	code, _, body := env.get("analyst-1", "/api/v1/events?format=stix")
	if code != 200 {
		t.Fatalf("export: %d %s", code, body)
	}
	validateSTIX(t, py, "export bundle", body)
	req, _ := http.NewRequest("GET", env.url+taxiiRoot+"collections/"+collectionID(env.ex)+"/objects/?limit=1000", nil)
	req.Header.Set("Authorization", "Bearer "+env.tokens["analyst-1"])
	req.Header.Set("Accept", taxiiMedia)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct{ Objects []json.RawMessage }
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || len(page.Objects) == 0 {
		t.Fatalf("TAXII objects: %v, %d objects", err, len(page.Objects))
	}
	bundle, _ := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--6b1f7c43-3e2b-4c1d-9a55-0d1c2b7e8f90", "objects": page.Objects})
	validateSTIX(t, py, "TAXII objects page", bundle)
}
