package correlate

import "math/bits"

// Hashing and the pointer-free indexes the engine keeps its state in. Keys are 64-bit
// hashes of observables, event ids and fingerprints; a collision between two different
// values (probability ~n²/2⁶⁵) merges their state, which is accepted for speed.

const (
	hk0 = 0xa0761d6478bd642f
	hk1 = 0xe7037ed1a0b428db
	hk2 = 0x8ebc6af09c88c6e3

	seedObs   = 0x5bd1e9955bd1e995
	seedID    = 0x9e3779b97f4a7c15
	seedFP    = 0xc2b2ae3d27d4eb4f
	seedScope = 0x165667b19e3779f9
	seedDict  = 0x27d4eb2f165667c5
)

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// fmix is the splitmix64 finaliser: a bijection, so distinct inputs stay distinct.
func fmix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// hashString is a small wyhash-style hash; stable across processes, so snapshots stay valid.
// The last 1–7 bytes are folded in as one little-endian word, put together from
// overlapping loads rather than byte by byte.
func hashString(seed uint64, s string) uint64 {
	n := len(s)
	h := seed ^ hk0 ^ uint64(n)*hk2
	i := 0
	for ; i+8 <= n; i += 8 {
		h = mix(h^le64(s[i:]), hk1)
	}
	return fmix(mix(h^tailWord(s, n-i)^hk2, hk1))
}

// tailWord returns the last t (0–7) bytes of s as a little-endian word.
func tailWord(s string, t int) uint64 {
	n := len(s)
	switch {
	case t == 0:
		return 0
	case n >= 8: // the word ending the string, less the bytes before the tail
		return le64(s[n-8:]) >> (8 * (8 - t))
	case t >= 4:
		return uint64(le32(s)) | uint64(le32(s[t-4:])>>(8*(8-t)))<<32
	}
	return uint64(s[0]) | uint64(s[t/2])<<(8*(t/2)) | uint64(s[t-1])<<(8*(t-1))
}

// foldString folds s into the running hash h: its length, then its bytes a word at a
// time, without finalising (the caller finalises once, with fmix).
func foldString(h uint64, s string) uint64 {
	n := len(s)
	h = mix(h^uint64(n)^hk2, hk1)
	i := 0
	for ; i+8 <= n; i += 8 {
		h = mix(h^le64(s[i:]), hk1)
	}
	if t := n - i; t > 0 {
		h = mix(h^tailWord(s, t)^hk0, hk1)
	}
	return h
}

// dictHash hashes a dictionary name: names are short, so two overlapping words and one
// multiplication do. Dictionaries are rebuilt from their names on restore, so the value
// is not persisted.
func dictHash(s string) uint64 {
	n := len(s)
	var a, b uint64
	switch {
	case n > 16:
		return hashString(seedDict, s)
	case n >= 8:
		a, b = le64(s), le64(s[n-8:])
	case n >= 4:
		a, b = uint64(le32(s)), uint64(le32(s[n-4:]))
	case n > 0:
		a = tailWord(s, n)
	}
	return mix(a^seedDict, b^uint64(n)<<56^hk1)
}

func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func le32(s string) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// hashU64 folds x into h.
func hashU64(h, x uint64) uint64 { return mix(h^x^hk0, hk1) }

// tableKey maps the key 0, which marks an empty slot in the engine's tables, to 1.
func tableKey(k uint64) uint64 {
	if k == 0 {
		return 1
	}
	return k
}
