package jsonscan

import (
	"math/rand/v2"
	"testing"
)

// stringByBytes is String without plainRun: the byte-at-a-time reference.
func stringByBytes(doc []byte, i int) (int, bool) {
	i++
	for ; i < len(doc); i++ {
		switch c := doc[i]; {
		case c == '"':
			return i + 1, true
		case c == '\\':
			if i+1 >= len(doc) {
				return i, false
			}
			switch doc[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if getu4(doc[i:]) < 0 {
					return i, false
				}
				i += 5
			default:
				return i, false
			}
		case c < 0x20:
			return i, false
		}
	}
	return i, false
}

// TestStringSkipsWordsAsBytes: String, which tests eight bytes at a time, ends where the
// byte-at-a-time scan ends, for strings with a special byte at every position of a word.
func TestStringSkipsWordsAsBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	specials := []byte{'"', '\\', 0, 0x1f, 0x7f, 0x80, 0xff, ' ', '!', '#', '[', ']', 'u'}
	for range 200000 {
		doc := make([]byte, 1+r.IntN(40))
		doc[0] = '"'
		for j := 1; j < len(doc); j++ {
			if r.IntN(6) == 0 {
				doc[j] = specials[r.IntN(len(specials))]
			} else {
				doc[j] = byte(0x20 + r.IntN(0x5f))
			}
		}
		end, _, _, ok := String(doc, 0)
		wantEnd, wantOK := stringByBytes(doc, 0)
		if ok != wantOK || ok && end != wantEnd {
			t.Fatalf("String(%q) = %d, %v; want %d, %v", doc, end, ok, wantEnd, wantOK)
		}
	}
}

// BenchmarkString scans strings as a delta holds them: event ids, hashes, URLs, short names.
func BenchmarkString(b *testing.B) {
	doc := []byte(`"0123456789abcdef0123456789abcdef" "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" "http://a1b2c3d4.example/gate.php?id=0a1b2c" "EE" "energy" "CERT-EE"`)
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		for i := 0; i < len(doc); i++ {
			if doc[i] == '"' {
				i, _, _, _ = String(doc, i)
			}
		}
	}
}
