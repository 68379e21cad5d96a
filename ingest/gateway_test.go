package ingest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// timeoutBody fails like a body cut by the server's read deadline.
type timeoutBody struct{}

type timeoutErr struct{}

func (timeoutErr) Error() string             { return "request body not received within 2m0s" }
func (timeoutErr) Timeout() bool             { return true }
func (timeoutBody) Read([]byte) (int, error) { return 0, timeoutErr{} }
func (timeoutBody) Close() error             { return nil }

func TestPushWhoseBodyTimesOutGets408NamingTheLimit(t *testing.T) {
	g := &Gateway{}
	r := httptest.NewRequest("POST", "/api/v1/feeds", nil)
	r.Body = timeoutBody{}
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	g.Push(w, r, "feed-a")
	if w.Code != http.StatusRequestTimeout || !strings.Contains(w.Body.String(), "not received within 2m0s") {
		t.Fatalf("push whose body timed out: %d %s, want 408 naming the limit", w.Code, w.Body)
	}
}
