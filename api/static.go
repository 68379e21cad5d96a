package api

import (
	"errors"
	"io/fs"
	"net/http"
	"strings"
	"unicode/utf8"
)

// staticFiles serves the dashboard's files from fsys: files only, never a directory
// listing (a directory without index.html is 404), and a path that cannot name a file
// (invalid UTF-8, "..", a NUL) is 400, where http.FileServer answered 500 or listed.
func staticFiles(fsys fs.FS) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		name := strings.TrimPrefix(p, "/")
		if strings.HasSuffix(name, "/") || name == "" {
			name += "index.html"
		}
		if !utf8.ValidString(p) || strings.ContainsAny(p, "\x00\\") || !fs.ValidPath(name) {
			writeError(w, http.StatusBadRequest, "bad_request", "path: want the name of one of the dashboard's files")
			return
		}
		st, err := fs.Stat(fsys, name)
		if err == nil && st.IsDir() {
			err = fs.ErrNotExist // no listings; the directory's index.html was asked for above when it ends in /
		}
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				writeError(w, http.StatusBadRequest, "bad_request", "path: want the name of one of the dashboard's files")
				return
			}
			http.NotFound(w, r)
			return
		}
		http.ServeFileFS(w, r, fsys, name)
	})
}
