package event

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

var (
	// ErrUnknownValue is returned for a value outside a closed vocabulary (kind, severity,
	// TLP, observable type, sector, country, category); the message lists what was expected.
	ErrUnknownValue = errors.New("unknown value")

	// ErrInvalidObservable is returned when an observable's value does not have the form its
	// type requires, after defanging; contributors see which value and why.
	ErrInvalidObservable = errors.New("invalid observable")

	// ErrInvalidEvent is wrapped by every validation error, so callers can tell a bad
	// contribution (dead-letter it) from an internal failure (retry it).
	ErrInvalidEvent = errors.New("invalid event")
)

// FieldError says which field of a contribution is wrong and what was expected. It is what
// a contributor reads in the dead letter or an HTTP 4xx answer.
type FieldError struct {
	Field  string // JSON path, e.g. "observables[2].value"
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes every FieldError an ErrInvalidEvent.
func (e *FieldError) Unwrap() error { return ErrInvalidEvent }

// MaxQuoted caps how many bytes of one contributed value an error message repeats, so a
// reason names the wrong value without growing with it (a 10⁶-digit number, a megabyte id).
const MaxQuoted = 128

// Quote returns v quoted as %q does. A value over MaxQuoted bytes is cut (see Clip) before
// quoting and followed by its true length: "9999…" (1000000 bytes). Parsers and Validate
// quote every contributed value in an error through it.
func Quote(v string) string {
	if len(v) <= MaxQuoted {
		return strconv.Quote(v)
	}
	return strconv.Quote(Truncate(v, MaxQuoted)) + " (" + strconv.Itoa(len(v)) + " bytes)"
}

// Clip is Quote without the quotes, for a value an error names bare (a STIX id, a MISP
// type) or an error text that repeats one (encoding/json's).
func Clip(v string) string {
	if len(v) <= MaxQuoted {
		return v
	}
	return Truncate(v, MaxQuoted) + " (" + strconv.Itoa(len(v)) + " bytes)"
}

// Truncate returns s if it has at most n bytes, else its longest prefix that ends on a
// rune boundary and, with "…" appended, has at most n bytes.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return Cut(s, max(n-len("…"), 0)) + "…"
}

// Cut returns the longest prefix of s of at most n bytes that ends on a rune boundary.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
