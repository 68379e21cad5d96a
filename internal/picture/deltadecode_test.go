package picture_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
)

// sameDecode checks that DecodeDelta and json.Unmarshal agree on doc: both fail, or both
// succeed with equal deltas. start, when not nil, is a delta both read doc over (each into
// its own copy), so that doc is read over values and slices already there.
func sameDecode(t *testing.T, doc []byte, start *picture.Delta) {
	t.Helper()
	var got, want picture.Delta
	if start != nil {
		got, want = cloneDelta(start), cloneDelta(start)
	}
	err := picture.DecodeDelta(doc, &got)
	wantErr := json.Unmarshal(doc, &want)
	switch {
	case (err == nil) != (wantErr == nil):
		t.Fatalf("DecodeDelta(%q) = %v, json.Unmarshal = %v", doc, err, wantErr)
	case err != nil:
		var de *picture.DecodeError
		if !errors.As(err, &de) || strings.Contains(err.Error(), "json:") {
			t.Fatalf("DecodeDelta(%q) error %q (%T) is not a DecodeError in words", doc, err, err)
		}
	case !reflect.DeepEqual(got, want):
		t.Fatalf("DecodeDelta(%q) over %+v:\n got %#v\nwant %#v", doc, start, got, want)
	}
}

// cloneDelta returns a copy of x that shares no array with it.
func cloneDelta(x *picture.Delta) picture.Delta {
	c := *x
	s := &c.Situation
	s.Contributors, s.Countries, s.Sectors = slices.Clone(s.Contributors), slices.Clone(s.Countries), slices.Clone(s.Sectors)
	s.Techniques, s.Names, s.ReleasableTo = slices.Clone(s.Techniques), slices.Clone(s.Names), slices.Clone(s.ReleasableTo)
	s.Observables, s.EventIDs, c.MergedFrom = slices.Clone(s.Observables), slices.Clone(s.EventIDs), slices.Clone(c.MergedFrom)
	if s.Geo != nil {
		g := *s.Geo
		s.Geo = &g
	}
	return c
}

// randDelta returns a delta json.Marshal accepts, with the values that are hard to read
// back: escapes, invalid UTF-8, extreme numbers, time zones, nil and empty slices.
func randDelta(r *rand.Rand) picture.Delta {
	s := picture.Situation{
		ID: randString(r), Version: randUint(r), Exercise: randString(r), Title: randString(r),
		Kind: event.Kind(1 + r.IntN(4)), Category: randString(r), Severity: event.Severity(1 + r.IntN(5)),
		Confidence: randFloat(r), Score: randFloat(r), Rank: randFloat(r),
		Explanation: picture.Explanation{Severity: randFloat(r), Corroboration: randFloat(r), Evidence: randFloat(r),
			Confidence: randFloat(r), Corroborations: randInt(r), Criticality: randFloat(r), Decay: randFloat(r),
			Recency: randFloat(r), AgeHours: randFloat(r), Relevance: randFloat(r), Text: randString(r)},
		Contributors: randSlice(r, func() picture.Contributor {
			return picture.Contributor{Name: randString(r), Anonymise: r.IntN(2) == 0}
		}),
		Countries: randSlice(r, func() string { return randString(r) }), Sectors: randSlice(r, func() string { return randString(r) }),
		Techniques: randSlice(r, func() string { return randString(r) }),
		Names:      randSlice(r, func() event.Name { return event.Name{Kind: randString(r), Name: randString(r)} }),
		TLP:        event.TLP(1 + r.IntN(5)), ReleasableTo: randSlice(r, func() string { return randString(r) }),
		Observables: randSlice(r, func() event.Observable {
			return event.Observable{Type: event.ObservableType(1 + r.IntN(11)), Value: randString(r)}
		}),
		EventCount: randInt(r), EventIDs: randSlice(r, func() string { return randString(r) }),
		FirstSeen: randTime(r), LastSeen: randTime(r), UpdatedAt: randTime(r),
	}
	if r.IntN(2) == 0 {
		s.Geo = &event.Geo{Lat: randFloat(r), Lon: randFloat(r)}
	}
	return picture.Delta{Situation: s, MergedFrom: randSlice(r, func() string { return randString(r) }),
		Removed: r.IntN(3) == 0, MergedInto: randString(r)}
}

func randSlice[T any](r *rand.Rand, f func() T) []T {
	switch r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []T{}
	}
	xs := make([]T, r.IntN(6))
	for i := range xs {
		xs[i] = f()
	}
	return xs
}

var stringParts = []string{"", "a", "198.51.100.7", "evil.example", "APT 28", `"`, `\`, "/", "\n\t\r\b\f", "\x00\x1f",
	"<script>&", "é", "日本", "😀", "\u2028\u2029", "\xff", "\xed\xa0\x80", "\xc3", "\ufffd", "CLEAR", "ID"}

func randString(r *rand.Rand) string {
	var b strings.Builder
	for range r.IntN(4) {
		b.WriteString(stringParts[r.IntN(len(stringParts))])
	}
	if r.IntN(20) == 0 {
		b.WriteString(strings.Repeat("x", 200+r.IntN(200)))
	}
	return b.String()
}

func randFloat(r *rand.Rand) float64 {
	switch r.IntN(8) {
	case 0:
		return 0
	case 1:
		return math.Copysign(0, -1)
	case 2:
		return []float64{math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 1e21, 1e-7, 1e20, 123456789}[r.IntN(7)]
	case 3:
		return float64(r.IntN(101))
	case 4:
		return math.Float64frombits(r.Uint64()&^(0x7ff<<52) | uint64(r.IntN(0x7ff))<<52) // any finite
	}
	return r.Float64() * 100
}

func randUint(r *rand.Rand) uint64 {
	switch r.IntN(3) {
	case 0:
		return uint64(r.IntN(10))
	case 1:
		return math.MaxUint64
	}
	return r.Uint64()
}

func randInt(r *rand.Rand) int {
	switch r.IntN(4) {
	case 0:
		return r.IntN(100)
	case 1:
		return math.MinInt64
	case 2:
		return math.MaxInt64
	}
	return int(r.Int64())
}

var zones = []*time.Location{time.UTC, time.FixedZone("", 3600), time.FixedZone("EET", 2*3600),
	time.FixedZone("", -(9*3600 + 30*60)), time.FixedZone("", 14*3600)}

func randTime(r *rand.Rand) time.Time {
	switch r.IntN(4) {
	case 0:
		return time.Time{}
	case 1:
		return time.Date(2026, 12, 1, 23, 0, r.IntN(60), r.IntN(3)*int(time.Millisecond), time.UTC)
	}
	t := time.Unix(r.Int64N(253402300799-(-62135596800))+(-62135596800), r.Int64N(1e9)).In(zones[r.IntN(len(zones))])
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}
	}
	return t
}

// variants returns doc as json.Marshal wrote it and written otherwise: indented, and with
// the keys in another order (through a map, which also turns numbers into float64s).
func variants(t testing.TB, doc []byte, r *rand.Rand) [][]byte {
	var ind bytes.Buffer
	if err := json.Indent(&ind, doc, strings.Repeat(" ", r.IntN(3)), "\t \r\n"[:1+r.IntN(4)]); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	sorted, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return [][]byte{doc, ind.Bytes(), sorted}
}

// TestDecodeDeltaMatchesEncodingJSON is the property: for random deltas as json.Marshal
// writes them (and indented, and with keys reordered), DecodeDelta gives what
// json.Unmarshal gives, into a zero delta and over another delta already read.
func TestDecodeDeltaMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 1))
	var prev *picture.Delta
	for i := range 2000 {
		x := randDelta(r)
		doc, err := json.Marshal(&x)
		if err != nil {
			t.Fatalf("delta %d: %v", i, err)
		}
		var got picture.Delta
		if err := picture.DecodeDelta(doc, &got); err != nil {
			t.Fatalf("delta %d: DecodeDelta(%s): %v", i, doc, err)
		}
		for _, v := range variants(t, doc, r) {
			sameDecode(t, v, nil)
			if prev != nil {
				sameDecode(t, v, prev)
			}
		}
		prev = &x
	}
}

// oddDocs are documents json.Marshal does not write but json.Unmarshal reads (or refuses):
// the seeds of FuzzDecodeDelta and the cases of TestDecodeDeltaOddDocuments.
var oddDocs = []string{
	`null`, ` {} `, `{"situation":null}`, `{"situation":{}}`, `[]`, `"x"`, `1`, `true`, ``, ` `, `{`, `{}x`, `{} {}`,
	`{"unknown":{"a":[1,2,{"b":null}],"c":"\u00e9"},"removed":true}`,
	`{"unknown":[1,2,}`, `{"unknown":{"a" 1}}`, `{"unknown":01}`, `{"unknown":-}`, `{"unknown":tru}`,
	`{"ID":1}`, `{"Situation":{"ID":"a","VERSION":2,"Title":"t"}}`, `{"ſituation":{"\u0069d":"b","\u212aind":"sighting"}}`,
	`{"situation":{"id":"a","id":"b"}}`, `{"situation":{"id":"a"},"situation":{"title":"t"}}`,
	`{"situation":{"observables":[{"type":"ipv4","value":"a"},{"type":"sha1","value":"b"}],"observables":[{"value":"c"},null]}}`,
	`{"situation":{"observables":[{"type":"ipv4","value":"a"},{"type":"md5","value":"b"},{"value":"d"}],"observables":[{"value":"c"}],"observables":[{},{},{},{}]}}`,
	`{"situation":{"event_ids":["a","b"],"event_ids":[null,null,null]}}`,
	`{"situation":{"event_ids":[]},"merged_from":[]}`, `{"situation":{"event_ids":null,"contributors":null,"geo":null}}`,
	`{"situation":{"geo":{"lat":1},"geo":{"lon":2}}}`, `{"situation":{"geo":{"lat":1},"geo":null,"geo":{"lon":2}}}`,
	`{"situation":{"geo":[]}}`, `{"situation":{"geo":5}}`, `{"situation":{"geo":{"lat":"1"}}}`,
	`{"situation":{"kind":"Sighting","severity":"HIGH","tlp":" amber ","observables":[{"type":"IPv4"}]}}`,
	`{"situation":{"tlp":"TLP:RED"}}`, `{"situation":{"tlp":"white"}}`, `{"situation":{"tlp":"\u0052ED"}}`,
	`{"situation":{"kind":"ſighting"}}`, `{"situation":{"kind":"spy"}}`, `{"situation":{"kind":1}}`,
	`{"situation":{"kind":null,"severity":null,"tlp":null,"version":null,"score":null,"title":null}}`,
	`{"situation":{"version":-1}}`, `{"situation":{"version":1.0}}`, `{"situation":{"version":1e2}}`,
	`{"situation":{"version":18446744073709551616}}`, `{"situation":{"version":"1"}}`, `{"situation":{"version":-0}}`,
	`{"situation":{"event_count":-9223372036854775808}}`, `{"situation":{"event_count":9223372036854775808}}`,
	`{"situation":{"score":1e309}}`, `{"situation":{"score":-0.0}}`, `{"situation":{"score":4.9e-325}}`, `{"situation":{"score":1E+2}}`,
	`{"situation":{"score":.5}}`, `{"situation":{"score":+1}}`, `{"situation":{"score":0x10}}`, `{"situation":{"score":NaN}}`,
	`{"situation":{"first_seen":"2026-12-01T23:00:00Z","last_seen":"2026-12-01T23:00:00.123456789+02:00"}}`,
	`{"situation":{"first_seen":"2026-12-01T23:00:00"}}`, `{"situation":{"first_seen":"2026-12-01 23:00:00Z"}}`,
	`{"situation":{"first_seen":"2026-12-01T23:00:00\u005a"}}`, `{"situation":{"first_seen":null}}`,
	`{"situation":{"first_seen":0}}`, `{"situation":{"first_seen":{}}}`, `{"situation":{"first_seen":"0000-01-01T00:00:00Z"}}`,
	`{"situation":{"first_seen":"2026-02-30T00:00:00Z"}}`, `{"situation":{"first_seen":"2026-12-01T23:00:00+24:00"}}`,
	`{"removed":1}`, `{"removed":"true"}`, `{"removed":nul}`, `{"merged_into":1}`, `{"merged_from":"a"}`, `{"merged_from":[1]}`,
	"{\"merged_into\":\"\xff\xfe\"}", "{\"merged_into\":\"a\x01\"}", `{"merged_into":"\ud800\udc00\ud800x\u0000"}`,
	`{"merged_into":"\x"}`, `{"merged_into":"\u12"}`, "{\"merged_into\":\"\u2028\"}", "\ufeff{}",
	"{\"\xff\":1,\"removed\":true}", `{"removed"  :  true  ,  "merged_into"  :  "x"  }`, "\t{\n}\r\n",
	`{"situation":{"explanation":{"text":"x","TEXT":"y","relevance":null,"corroborations":1.5}}}`,
	`{"situation":{"contributors":[{"name":"a","anonymise":true},{"Name":"b"},null,{"unknown":[]}]}}`,
	`{"situation":{"names":[{"kind":"malware","name":"x","extra":{}}],"names":[null]}}`,
	`{"situation":{"countries":["EE",null,"LV"],"sectors":[[]]}}`, `{"situation":[]}`, `{"situation":"x"}`,
	`{"situation":{"explanation":[]}}`, `{"situation":{"contributors":{}}}`, `{"situation":{"observables":[1]}}`,
	`{"situation":{"id":"a"`, `{"situation":{"id":"a"}`, `{"situation":{"id":"a"}}}`, `{"situation":{"id":"a",}}`,
	`{"situation":{"id" "a"}}`, `{"situation":{id:"a"}}`, `{,}`, `{"a":1,}`, `[`, `{"situation":{"observables":[{"type":"ipv4"},]}}`,
	`{"a":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`,
	`{"a":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
	`{"a":` + strings.Repeat(`{"b":`, 9999) + "1" + strings.Repeat("}", 9999) + `}`,
	`{"a":` + strings.Repeat(`{"b":`, 10000) + "1" + strings.Repeat("}", 10000) + `}`,
}

func TestDecodeDeltaOddDocuments(t *testing.T) {
	start := &realisticDeltas(1, 1)[0]
	for _, doc := range oddDocs {
		sameDecode(t, []byte(doc), nil)
		sameDecode(t, []byte(doc), start)
	}
}

// TestDecodeDeltaErrorNamesField: a refused delta's error says which field and what was
// expected, in words.
func TestDecodeDeltaErrorNamesField(t *testing.T) {
	f := func(doc, want string) {
		t.Helper()
		err := picture.DecodeDelta([]byte(doc), new(picture.Delta))
		if err == nil || err.Error() != want {
			t.Errorf("DecodeDelta(%s) = %v\nwant %s", doc, err, want)
		}
	}
	f(`{"situation":{"version":"2"}}`,
		`cannot decode picture delta: situation.version (byte 24): want a whole number, got a string`)
	f(`{"situation":{"version":-1}}`,
		`cannot decode picture delta: situation.version (byte 24): want a whole number from 0 to 18446744073709551615, got -1`)
	f(`{"situation":{"observables":[{"type":"ipv4"},{"type":"ip"}]}}`,
		`cannot decode picture delta: situation.observables[1].type (byte 53): unknown value "ip": want one of ipv4, ipv6, cidr, domain, url, email, sha256, sha1, md5, cve, asn`)
	f(`{"situation":{"event_ids":["a",2]}}`,
		`cannot decode picture delta: situation.event_ids[1] (byte 31): want a string, got a number`)
	f(`{"situation":{"last_seen":"yesterday"}}`,
		`cannot decode picture delta: situation.last_seen (byte 26): want an RFC 3339 time such as "2026-12-01T23:00:00Z", got "yesterday"`)
	f(`{"situation":{"explanation":{"decay":1e999}}}`,
		`cannot decode picture delta: situation.explanation.decay (byte 37): want a number within ±1.8e308, got 1e999`)
	f(`{"situation":{"tlp":"BLUE"}}`,
		`cannot decode picture delta: situation.tlp (byte 20): unknown value "BLUE": want one of CLEAR, GREEN, AMBER, AMBER+STRICT, RED`)
	f(`{"situation":{"geo":{"lat":1,}}}`,
		`cannot decode picture delta: situation.geo (byte 29): invalid JSON: want a string key`)
	f(`{"removed":true,"extra":[1,}`,
		`cannot decode picture delta: extra (byte 27): invalid JSON: in the value of an unknown member`)
	f(`{"removed":true}x`, `cannot decode picture delta at byte 16: invalid JSON: want the end of the document after the delta`)
	f(`[]`, `cannot decode picture delta at byte 0: want an object, got an array`)
	f(``, `cannot decode picture delta at byte 0: invalid JSON: want an object, got the end of the document`)
}

// TestDecodeDeltaKeepsNoInput: the strings read do not alias the document, which the Kafka
// reader reuses for the next message.
func TestDecodeDeltaKeepsNoInput(t *testing.T) {
	x := realisticDeltas(2, 1)[0]
	doc, _ := json.Marshal(&x)
	var got picture.Delta
	if err := picture.DecodeDelta(doc, &got); err != nil {
		t.Fatal(err)
	}
	for i := range doc {
		doc[i] = 'X'
	}
	if !reflect.DeepEqual(got, x) {
		t.Fatalf("delta changed with the document it was read from:\n got %+v\nwant %+v", got, x)
	}
}

func FuzzDecodeDelta(f *testing.F) {
	for _, d := range oddDocs {
		if len(d) < 1000 {
			f.Add([]byte(d))
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 20 {
		x := randDelta(r)
		doc, _ := json.Marshal(&x)
		if i%4 == 0 {
			for _, v := range variants(f, doc, r)[1:] {
				f.Add(v)
			}
		}
		f.Add(doc)
	}
	for _, x := range realisticDeltas(5, 4) {
		doc, _ := json.Marshal(&x)
		f.Add(doc)
	}
	start := &realisticDeltas(1, 1)[0]
	f.Fuzz(func(t *testing.T, doc []byte) {
		sameDecode(t, doc, nil)
		sameDecode(t, doc, start)
	})
}

// realisticDeltas returns n deltas shaped like the engine's at the demo: a situation with
// 20 observables of the usual types, 20 event ids, a few contributors, names, countries and
// sectors, the explanation's text; one in four absorbs another (merged_from).
func realisticDeltas(seed uint64, n int) []picture.Delta {
	r := rand.New(rand.NewPCG(seed, 0))
	contributors := []string{"CERT-EE", "CERT-LV", "NCSC-FI", "CERT.at", "EUFOR-ALTHEA SOC", "CSIRT-MIL"}
	hex := func(n int) string {
		const digits = "0123456789abcdef"
		b := make([]byte, n)
		for i := range b {
			b[i] = digits[r.IntN(16)]
		}
		return string(b)
	}
	now := time.Date(2026, 12, 1, 23, 0, 0, 0, time.UTC)
	ds := make([]picture.Delta, n)
	for i := range ds {
		first := now.Add(-time.Duration(r.IntN(72*3600)) * time.Second)
		s := picture.Situation{ID: "s-" + hex(16), Version: uint64(1 + r.IntN(50)), Title: "C2 traffic to " + hex(6) + ".example from several sensors",
			Kind: event.KindSighting, Category: "malicious-code/c2-server", Severity: event.SeverityHigh,
			Confidence: 100 * r.Float64(), Score: 100 * r.Float64(),
			Countries: []string{"EE", "LV", "LT"}[:1+r.IntN(3)], Sectors: []string{"energy", "defence"}[:1+r.IntN(2)],
			Techniques: []string{"T1071.001", "T1566"}, TLP: event.TLPAmber, EventCount: 20 + r.IntN(100),
			FirstSeen: first, LastSeen: now.Add(-time.Duration(r.IntN(3600)) * time.Second), UpdatedAt: now.Add(time.Duration(r.IntN(1e9)))}
		s.Explanation = picture.Explanation{Severity: 0.75, Corroboration: r.Float64(), Evidence: 3 * r.Float64(), Confidence: r.Float64(),
			Corroborations: 3, Criticality: 0.9, Decay: r.Float64(), Recency: r.Float64(), AgeHours: 72 * r.Float64(),
			Text: fmt.Sprintf("severity high 0.75 × corroboration %.2f (3 contributors, confidence %.2f) × criticality 0.90 (energy) × decay %.2f × recency %.2f at %.0fh = %.1f",
				r.Float64(), r.Float64(), r.Float64(), r.Float64(), 72*r.Float64(), 100*r.Float64())}
		for k := range 2 + r.IntN(3) {
			s.Contributors = append(s.Contributors, picture.Contributor{Name: contributors[(i+k)%len(contributors)], Anonymise: k == 1})
		}
		s.Names = []event.Name{{Kind: "intrusion-set", Name: "apt28"}, {Kind: "malware", Name: "x-agent"}, {Kind: "tool", Name: "mimikatz"}}[:1+r.IntN(3)]
		if r.IntN(2) == 0 {
			s.Geo = &event.Geo{Lat: 59 + r.Float64(), Lon: 24 + r.Float64()}
		}
		for k := range 20 {
			var o event.Observable
			switch k % 5 {
			case 0:
				o = event.Observable{Type: event.ObsIPv4, Value: fmt.Sprintf("198.51.%d.%d", r.IntN(256), r.IntN(256))}
			case 1:
				o = event.Observable{Type: event.ObsDomain, Value: hex(8) + ".evil.example"}
			case 2:
				o = event.Observable{Type: event.ObsURL, Value: "http://" + hex(8) + ".example/gate.php?id=" + hex(6)}
			case 3:
				o = event.Observable{Type: event.ObsSHA256, Value: hex(64)}
			default:
				o = event.Observable{Type: event.ObsIPv6, Value: "2001:db8::" + hex(4)}
			}
			s.Observables = append(s.Observables, o)
			s.EventIDs = append(s.EventIDs, hex(32))
		}
		ds[i] = picture.Delta{Situation: s}
		if i%4 == 3 {
			ds[i].MergedFrom = []string{"s-" + hex(16)}
		}
	}
	return ds
}
