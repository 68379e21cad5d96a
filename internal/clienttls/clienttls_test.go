package clienttls

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadRefusesWhatCannotWork(t *testing.T) {
	if c, err := Load("", "", ""); c != nil || err != nil {
		t.Fatalf("nothing given: %v %v, want plaintext (nil, nil)", c, err)
	}
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("not a certificate"), 0o600)
	for _, tc := range []struct{ ca, cert, key, want string }{
		{filepath.Join(dir, "missing.pem"), "", "", "cannot read CA file"},
		{junk, "", "", "no PEM certificate"},
		{"", junk, "", "needs both"},
		{"", "", junk, "needs both"},
		{"", junk, junk, "cannot load client certificate"},
	} {
		if _, err := Load(tc.ca, tc.cert, tc.key); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%q, %q, %q) = %v, want an error with %q", tc.ca, tc.cert, tc.key, err, tc.want)
		}
	}
}
