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

// A push is refused with 415 before its body is read when its encoding or media type is
// not one COP parses: ?format= no longer skips the Content-Type check, and a gzip body is
// refused as such instead of failing later as "not valid UTF-8".
func TestPushRefusesUnsupportedEncodingAndContentType(t *testing.T) {
	g := &Gateway{} // no Kafka writer: a refused push never reaches it
	f := func(query string, header map[string]string, want string) {
		t.Helper()
		req := httptest.NewRequest("POST", "/api/v1/feeds"+query, strings.NewReader(`[]`))
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s %v: not refused before the body is handled (%v)", query, header, p)
				}
			}()
			g.Push(rec, req, "feed-a")
		}()
		if rec.Code != http.StatusUnsupportedMediaType || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("%s %v: %d %s, want 415 mentioning %q", query, header, rec.Code, rec.Body.String(), want)
		}
	}
	f("", map[string]string{"Content-Encoding": "gzip"}, "Content-Encoding")
	f("?format=native", map[string]string{"Content-Encoding": "gzip", "Content-Type": "application/json"}, "Content-Encoding")
	f("?format=stix", map[string]string{"Content-Encoding": "br"}, "Content-Encoding")
	f("?format=native", map[string]string{"Content-Type": "text/plain"}, "Content-Type")
	f("?format=native", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "Content-Type")
	f("?format=native", map[string]string{"Content-Type": "application/stix+json"}, "want one format")
	f("", map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, "Content-Type")
	f("?format=yaml", nil, "format")
}

func TestPushFormatFromQueryOrContentType(t *testing.T) {
	f := func(query, ct string, want Format) {
		t.Helper()
		req := httptest.NewRequest("POST", "/api/v1/feeds"+query, nil)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		req.Header.Set("Content-Encoding", "identity")
		got, msg := pushFormat(req)
		if msg != "" || got != want {
			t.Errorf("%s %q: %q %q, want %q", query, ct, got, msg, want)
		}
	}
	f("", "", "")
	f("?format=native", "", FormatNative)
	f("?format=native", "application/json", FormatNative)
	f("?format=native", "application/vnd.cop+json; charset=utf-8", FormatNative)
	f("", "application/stix+json;version=2.1", FormatSTIX)
	f("?format=misp", "application/json", FormatMISP)
}
