// Package jsonerr turns what encoding/json says about a contributed document into what a
// contributor can act on: the field, what was found and what was expected, without Go type
// or struct names. Parsers call it on their (rare) decode failures only.
package jsonerr

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cidcc/cop/internal/event"
)

// Describe returns the field (a JSON path such as "geo.lat", an unknown key quoted, or ""
// when the error names none) and the reason for err, an error of json.Unmarshal or json.Decoder.Decode.
func Describe(err error) (field, reason string) {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	var pe *time.ParseError
	switch {
	case errors.As(err, &te):
		return te.Field, fmt.Sprintf("got %s, want %s", found(te.Value), Want(te.Type))
	case errors.As(err, &se):
		return "", fmt.Sprintf("malformed JSON at byte %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: "))
	case errors.As(err, &pe):
		return "", fmt.Sprintf("%s: want an RFC 3339 time such as 2026-02-01T10:00:00Z", event.Quote(pe.Value))
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, `json: unknown field "`); ok {
		// Quoted, as every contributed string in a reason: logs elide it (ingest.logSafe).
		return event.Quote(strings.TrimSuffix(f, `"`)), "not a field of this format"
	}
	return "", event.Clip(strings.TrimPrefix(msg, "json: "))
}

// found rewrites encoding/json's description of a JSON value ("number 80.0", "string").
func found(v string) string {
	if kind, lit, ok := strings.Cut(v, " "); ok {
		return "the " + kind + " " + event.Clip(lit)
	}
	switch v {
	case "array":
		return "a list"
	case "object":
		return "an object"
	case "bool":
		return "true or false"
	}
	return "a " + v
}

// Want describes in words the JSON a Go type accepts.
func Want(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[time.Time]() {
		return "an RFC 3339 time string"
	}
	if t.Implements(reflect.TypeFor[interface{ UnmarshalText([]byte) error }]()) ||
		reflect.PointerTo(t).Implements(reflect.TypeFor[interface{ UnmarshalText([]byte) error }]()) {
		return "a string"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number, not negative"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list of " + plural(Want(t.Elem()))
	case reflect.Map:
		return "an object"
	case reflect.Struct:
		var keys []string
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if name != "" && name != "-" {
				keys = append(keys, strconv.Quote(name))
			}
		}
		if len(keys) == 0 || len(keys) > 4 {
			return "an object"
		}
		return "an object with " + strings.Join(keys, ", ")
	}
	return "another type"
}

func plural(s string) string {
	for _, a := range [...]string{"a ", "an "} {
		if r, ok := strings.CutPrefix(s, a); ok {
			w, rest, _ := strings.Cut(r, " ")
			if strings.HasSuffix(w, "s") {
				return r
			}
			if rest != "" {
				return w + "s " + rest
			}
			return w + "s"
		}
	}
	return s
}

// Locate finds the member of the JSON object doc whose value alone makes decode fail, for
// errors that name no field (a value an UnmarshalText refuses, a time that does not
// parse). decode decodes a one-member object into a fresh target. For a list it names the
// element, e.g. "observables[3]". It returns "" when no single member fails.
func Locate(doc []byte, decode func([]byte) error) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(doc, &m) != nil {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		one, _ := json.Marshal(map[string]json.RawMessage{k: m[k]})
		if decode(one) == nil {
			continue
		}
		var elems []json.RawMessage
		if json.Unmarshal(m[k], &elems) == nil {
			for i, e := range elems {
				one, _ := json.Marshal(map[string][]json.RawMessage{k: {e}})
				if decode(one) != nil {
					return k + "[" + strconv.Itoa(i) + "]"
				}
			}
		}
		return k
	}
	return ""
}
