package ingest

import "testing"

func TestLogSafeElidesQuotedValues(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := logSafe(in); got != want {
			t.Errorf("logSafe(%q) = %q, want %q", in, got, want)
		}
	}
	f(`category: "secret-op-name" is not a class`, `category: "…" is not a class`)
	f(`id "a\"b": kind: missing`, `id "…": kind: missing`)
	f(`invalid character 'x' looking for value`, `invalid character '…' looking for value`)
	f(`json: unknown field "contributor"`, `json: unknown field "…"`)
	f(`title: "unterminated secret`, `title: "…`)
	f(`kind: missing: want one of indicator`, `kind: missing: want one of indicator`)
}
