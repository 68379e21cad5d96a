package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestOpenAPIDocumentsEveryRoute reads every /api/v1 route registered in this package's
// sources and checks openapi.json documents it with that method, and nothing more.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	var spec struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &spec); err != nil || !strings.HasPrefix(spec.OpenAPI, "3.") {
		t.Fatalf("openapi.json: %v (version %q)", err, spec.OpenAPI)
	}
	route := regexp.MustCompile(`"(GET|POST|PUT|PATCH|DELETE) (/api/v1/[^"]*)"`)
	registered := map[string]bool{}
	files, _ := os.ReadDir(".")
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".go") || strings.HasSuffix(f.Name(), "_test.go") {
			continue
		}
		src, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range route.FindAllStringSubmatch(string(src), -1) {
			registered[strings.ToLower(m[1])+" "+m[2]] = true
		}
	}
	if len(registered) < 8 {
		t.Fatalf("found only %d routes: %v", len(registered), registered)
	}
	for r := range registered {
		method, path, _ := strings.Cut(r, " ")
		if _, ok := spec.Paths[path][method]; !ok {
			t.Errorf("route %s %s is not in openapi.json", strings.ToUpper(method), path)
		}
	}
	for path, ops := range spec.Paths {
		for method := range ops {
			if !registered[method+" "+path] {
				t.Errorf("openapi.json documents %s %s, which no handler serves", strings.ToUpper(method), path)
			}
		}
	}
	// And it is served, without a token.
	ts := httptest.NewServer((&Server{}).Handler())
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/api/v1/openapi.json")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/v1/openapi.json: %v %v", resp, err)
	}
	resp.Body.Close()
}
