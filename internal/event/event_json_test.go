package event_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
)

// plainEvent is Event without methods: what encoding/json did before the codec, and the
// oracle for both directions.
type plainEvent event.Event

// sameMarshal checks that the codec writes exactly what encoding/json writes for e, and
// fails where it fails.
func sameMarshal(t *testing.T, e event.Event) {
	t.Helper()
	want, wantErr := json.Marshal((*plainEvent)(&e))
	direct, directErr := e.AppendJSON([]byte("prefix"))
	if (directErr != nil) != (wantErr != nil) {
		t.Fatalf("marshal %+v: AppendJSON error %v; encoding/json says %v", e, directErr, wantErr)
	}
	if wantErr != nil {
		if string(direct) != "prefix" {
			t.Fatalf("AppendJSON failed but appended %q", direct)
		}
		return
	}
	if string(direct) != "prefix"+string(want) {
		t.Fatalf("marshal %+v:\n got %s\nwant prefix%s", e, direct, want)
	}
}

// plainNames turns the oracle's type names in encoding/json's messages into the codec's.
var plainNames = strings.NewReplacer("event_test.plainEvent", "event.Event", "plainEvent", "Event")

// dirtyEvent is a decoding target that already holds every field, with room in its slices,
// so the merge rules of encoding/json (absent keys keep their value) are exercised.
func dirtyEvent() event.Event {
	obs := make([]event.Observable, 1, 8)
	obs[0] = event.Observable{Type: event.ObsMD5, Value: "old"}
	return event.Event{ID: "old-id", Contributor: "old", SourceID: "old", Kind: event.KindReport,
		ObservedAt: time.Unix(1, 0).UTC(), ReceivedAt: time.Unix(2, 0).UTC(), ValidUntil: time.Unix(3, 0).UTC(),
		Observables: obs, Category: "old/old", Techniques: make([]string, 2, 8), Sectors: []string{"x"},
		Countries: []string{"FR", "DE"}, Geo: &event.Geo{Lat: 1, Lon: 2}, Severity: event.SeverityLow,
		Confidence: 7, TLP: event.TLPRed, ReleasableTo: []string{"old"}, Anonymise: true,
		Exercise: "old", Title: "old", Summary: "old",
		Names: append(make([]event.Name, 0, 4), event.Name{Kind: "malware", Name: "old"}), FalsePositives: 9}
}

// sameUnmarshal checks that UnmarshalJSON, called directly and through json.Unmarshal,
// leaves the same event and the same error as encoding/json on the plain struct, into a
// zero event and into a dirty one.
func sameUnmarshal(t testing.TB, doc []byte) {
	t.Helper()
	for _, start := range []func() event.Event{func() event.Event { return event.Event{} }, dirtyEvent} {
		want := start()
		wantErr := json.Unmarshal(doc, (*plainEvent)(&want))
		direct := start()
		directErr := direct.UnmarshalJSON(doc)
		if (directErr != nil) != (wantErr != nil) || !reflect.DeepEqual(direct, want) {
			t.Fatalf("UnmarshalJSON(%q):\n got %+v, %v\nwant %+v, %v", doc, direct, directErr, want, wantErr)
		}
		if wantErr != nil && directErr.Error() != plainNames.Replace(wantErr.Error()) {
			t.Fatalf("UnmarshalJSON(%q): error %q, want %q", doc, directErr, wantErr)
		}
		via := start()
		viaErr := json.Unmarshal(doc, &via)
		if (viaErr != nil) != (wantErr != nil) || wantErr == nil && !reflect.DeepEqual(via, want) {
			t.Fatalf("json.Unmarshal(%q):\n got %+v, %v\nwant %+v, %v", doc, via, viaErr, want, wantErr)
		}
	}
}

// roundTrips checks that what the codec writes, it reads itself in one pass, and that one
// write and read reach a fixed point (the first may turn invalid UTF-8 into U+FFFD).
func roundTrips(t testing.TB, e *event.Event) {
	t.Helper()
	cycle := func(b []byte) (event.Event, []byte) {
		t.Helper()
		if !event.DecodedInOnePass(b) {
			t.Fatalf("%s: not read in one pass", b)
		}
		var back event.Event
		if err := back.UnmarshalJSON(b); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		again, err := back.AppendJSON(nil)
		if err != nil {
			t.Fatalf("%+v: %v", back, err)
		}
		return back, again
	}
	b, err := e.AppendJSON(nil)
	if err != nil {
		return
	}
	e1, b1 := cycle(b)
	e2, b2 := cycle(b1)
	if !bytes.Equal(b1, b2) || !reflect.DeepEqual(e1, e2) {
		t.Fatalf("round trip:\n got %s\nwant %s", b2, b1)
	}
}

func TestCodecMatchesEncodingJSONOnSynthEvents(t *testing.T) {
	for _, e := range synthEvents(t, 7, 2000) {
		sameMarshal(t, e)
		doc, _ := json.Marshal((*plainEvent)(&e))
		if !event.DecodedInOnePass(doc) {
			t.Fatalf("%s went to encoding/json", doc)
		}
		sameUnmarshal(t, doc)
		var got event.Event
		if err := got.UnmarshalJSON(doc); err != nil || !reflect.DeepEqual(got, e) {
			t.Fatalf("decoded %+v, %v\nwant %+v", got, err, e)
		}
	}
}

// goldenLines returns the lines of the parsers' golden files: the events native, STIX and
// MISP documents became, as ingest puts them on cop.events.
func goldenLines(t testing.TB) [][]byte {
	t.Helper()
	files, err := filepath.Glob("../../testdata/*/*.golden.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	var lines [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if l := sc.Bytes(); len(l) > 0 && l[0] == '{' {
				lines = append(lines, bytes.Clone(l))
			}
		}
	}
	return lines
}

func TestCodecMatchesEncodingJSONOnGoldenEvents(t *testing.T) {
	lines := goldenLines(t)
	if len(lines) < 10 {
		t.Fatalf("only %d golden events", len(lines))
	}
	for _, l := range lines {
		sameUnmarshal(t, l)
		if !event.DecodedInOnePass(l) {
			t.Fatalf("golden event %s went to encoding/json", l)
		}
		var e event.Event
		if err := json.Unmarshal(l, (*plainEvent)(&e)); err != nil {
			t.Fatal(err)
		}
		sameMarshal(t, e)
		if b, _ := e.AppendJSON(nil); !bytes.Equal(b, l) {
			t.Fatalf("golden event written back as\n%s\nwant\n%s", b, l)
		}
	}
}

func TestAppendJSONMatchesEncodingJSONOnOddEvents(t *testing.T) {
	base := func() event.Event {
		return event.Event{ID: "i", Contributor: "c", SourceID: "s", Kind: event.KindSighting,
			ObservedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), ReceivedAt: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC),
			Severity: event.SeverityMedium, TLP: event.TLPAmberStrict, Title: "t"}
	}
	f := func(change func(e *event.Event)) {
		t.Helper()
		e := base()
		change(&e)
		sameMarshal(t, e)
		roundTrips(t, &e)
	}
	f(func(e *event.Event) {})
	f(func(e *event.Event) { *e = event.Event{} }) // kind 0: an error, as before
	for _, s := range []string{"", "<script>&amp;</script>", "quote \" backslash \\ slash /", "\x00\x01\x1f\x7f\b\f\n\r\t",
		"line\u2028para\u2029", "bad \xff\xfe utf-8 \xed\xa0\x80", "naïve Ελληνικά 日本語 🚀", "\xe2\x80", "\u2027\u202a"} {
		f(func(e *event.Event) {
			e.ID, e.Contributor, e.SourceID, e.Title, e.Summary, e.Category, e.Exercise = s, s, s, s, s, s, s
			e.Observables = []event.Observable{{Type: event.ObsURL, Value: s}, {Type: event.ObsASN, Value: s}}
			e.Techniques, e.Sectors, e.Countries, e.ReleasableTo = []string{s, s}, []string{s}, []string{s}, []string{s}
			e.Names = []event.Name{{Kind: s, Name: s}, {Kind: "tool", Name: s}}
		})
	}
	f(func(e *event.Event) {
		e.Observables, e.Techniques, e.Sectors, e.Countries, e.ReleasableTo =
			[]event.Observable{}, []string{}, []string{}, []string{}, []string{}
	})
	for _, x := range []float64{0, math.Copysign(0, -1), 1, -1, 59.43, 1e-6, 9.99e-7, 1e-7, 1.5e-300, 1e20, 1e21, 123456789012345678,
		-1e21, math.MaxFloat64, math.SmallestNonzeroFloat64, math.NaN(), math.Inf(1), math.Inf(-1)} {
		f(func(e *event.Event) { e.Geo = &event.Geo{Lat: x, Lon: -x} })
	}
	for _, tm := range []time.Time{{}, time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC),
		time.Date(2026, 3, 1, 12, 0, 0, 120000000, time.FixedZone("x", 2*3600+30*60)),
		time.Date(2026, 3, 1, 12, 0, 0, 1, time.FixedZone("x", -11*3600)),
		time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("x", 23*3600+59*60)),
		time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("x", 24*3600)),
		time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("x", -24*3600)),
		time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("x", 3600+17)),
		time.Date(2026, 3, 1, 12, 0, 0, 0, time.Local),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Now()} {
		f(func(e *event.Event) { e.ObservedAt = tm })
		f(func(e *event.Event) { e.ValidUntil = tm })
	}
	for v := range 8 {
		f(func(e *event.Event) { e.Kind = event.Kind(v) })
		f(func(e *event.Event) { e.Severity = event.Severity(v) })
		f(func(e *event.Event) { e.TLP = event.TLP(v) })
	}
	for v := range 14 {
		f(func(e *event.Event) { e.Observables = []event.Observable{{Type: event.ObservableType(v), Value: "x"}} })
	}
	f(func(e *event.Event) { e.Kind = 255 })
	f(func(e *event.Event) { e.Confidence, e.Anonymise = 255, true })
	f(func(e *event.Event) { e.Confidence = 0 })
	for _, n := range []uint32{0, 1, 1000, math.MaxUint32} {
		f(func(e *event.Event) { e.FalsePositives = n })
	}
	f(func(e *event.Event) { e.Names = []event.Name{} })
	f(func(e *event.Event) { e.Names = []event.Name{{}} })
}

// oddDocs are documents JSON allows and AppendJSON never writes: encoding/json must have
// the last word on each.
var oddDocs = []string{
	``, ` `, `null`, ` null `, `true`, `1`, `"x"`, `[]`, `[{}]`, `{}`, ` { } `, `{`, `}`, `{}}`, `{} x`, `{},`, `{"id":"a",}`,
	`{"id":"a"`, `{"id" "a"}`, `{"id":"a" "title":"b"}`, `{id:"a"}`, `{'id':'a'}`,
	`{"id":"a"}`, "\t\n\r {\"id\" : \"a\" , \"title\" :\"b\" }\n", `{"ID":"a"}`, `{"Id":"a","id":"b"}`, `{"id":"b","ID":"a"}`,
	`{"i\u0064":"a"}`, `{"id":"a","id":"b"}`, `{"unknown":1,"id":"a"}`, `{"id":null}`, `{"id":1}`, `{"id":["a"]}`,
	`{"id":"\u00e9\ud83d\ude80\ud800\udc00\ud800x\udfff\u0000\n\"\\\/"}`, `{"id":"\x"}`, `{"id":"\u12"}`, `{"id":"` + "\x01" + `"}`,
	`{"id":"` + "\xff\xfe" + `"}`, `{"id":"` + "\xed\xa0\x80" + `"}`, `{"id":"\ud800"}`, `{"id":"\udc00\ud800"}`,
	`{"title":"` + strings.Repeat(`\u00e9`, 200) + `"}`,
	`{"kind":"indicator"}`, `{"kind":"INDICATOR"}`, `{"kind":"Sighting"}`, `{"kind":"bogus"}`, `{"kind":""}`, `{"kind":null}`,
	`{"kind":1}`, `{"kind":"indic\u0061tor"}`, `{"tlp":"AMBER+STRICT"}`, `{"tlp":"amber"}`, `{"tlp":"TLP:RED"}`, `{"tlp":"WHITE"}`,
	`{"tlp":" RED "}`, `{"severity":"critical"}`, `{"severity":"Critical"}`, `{"severity":"none"}`,
	`{"confidence":0}`, `{"confidence":255}`, `{"confidence":256}`, `{"confidence":-1}`, `{"confidence":-0}`,
	`{"confidence":1.0}`, `{"confidence":1e2}`, `{"confidence":08}`, `{"confidence":"8"}`, `{"confidence":null}`,
	`{"confidence":99999999999999999999999}`,
	`{"anonymise":true}`, `{"anonymise":false}`, `{"anonymise":"true"}`, `{"anonymise":null}`, `{"anonymise":tru}`,
	`{"geo":{"lat":1,"lon":2}}`, `{"geo":{"lon":-2.5e-3,"lat":1E+2}}`, `{"geo":{"lat":1}}`, `{"geo":{}}`, `{"geo":null}`,
	`{"geo":{"lat":1,"lon":2,"alt":3}}`, `{"geo":{"lat":1,"lat":2,"lon":3}}`, `{"geo":{"LAT":1,"lon":2}}`,
	`{"geo":{"lat":"1","lon":2}}`, `{"geo":{"lat":1e400,"lon":2}}`, `{"geo":{"lat":-,"lon":2}}`, `{"geo":{"lat":1.,"lon":2}}`,
	`{"geo":{"lat":.5,"lon":2}}`, `{"geo":{"lat":01,"lon":2}}`, `{"geo":[1,2]}`, `{"geo":{"lat":1,"lon":2},"geo":{"lat":3,"lon":4}}`,
	`{"observables":[]}`, `{"observables":null}`, `{"observables":[{"type":"ipv4","value":"203.0.113.7"}]}`,
	`{"observables":[{"value":"x","type":"domain"},{"type":"md5","value":"y"}]}`, `{"observables":[{"type":"ipv4"}]}`,
	`{"observables":[{"value":"x"}]}`, `{"observables":[{"type":"IPv4","value":"x"}]}`, `{"observables":[{"type":"bogus","value":"x"}]}`,
	`{"observables":[{"type":"ipv4","value":"x","extra":1}]}`, `{"observables":[{"type":"ipv4","type":"md5","value":"x"}]}`,
	`{"observables":[null]}`, `{"observables":[{}]}`, `{"observables":[1]}`, `{"observables":{}}`, `{"observables":[{"type":"ipv4","value":"x"},]}`,
	`{"techniques":[]}`, `{"techniques":null}`, `{"techniques":["T1071","T1566"]}`, `{"techniques":[null]}`, `{"techniques":[1]}`,
	`{"techniques":"T1071"}`, `{"techniques":["a" "b"]}`, `{"sectors":["energy"],"countries":["EE"],"releasable_to":["X"]}`,
	`{"observed_at":"2026-03-01T12:00:00Z"}`, `{"observed_at":"2026-03-01T12:00:00.123+01:00"}`, `{"observed_at":"2026-03-01T12:00:00"}`,
	`{"observed_at":"2026-13-01T12:00:00Z"}`, `{"observed_at":"2026-03-01t12:00:00z"}`, `{"observed_at":null}`, `{"observed_at":1}`,
	`{"observed_at":"2026-03-01T12:00:00\u005a"}`, `{"valid_until":"0001-01-01T00:00:00Z"}`, `{"received_at":"2026-03-01T12:00:00+24:00"}`,
	`{"received_at":"10000-03-01T12:00:00Z"}`, `{"received_at":""}`,
	`{"names":[]}`, `{"names":null}`, `{"names":[{"kind":"malware","name":"emotet"}]}`, `{"names":[{"name":"x","kind":"tool"},{"kind":"campaign","name":"y"}]}`,
	`{"names":[{"kind":"malware"}]}`, `{"names":[{"name":"x"}]}`, `{"names":[{"kind":"malware","name":"x","extra":1}]}`,
	`{"names":[{"kind":"malware","kind":"tool","name":"x"}]}`, `{"names":[{"kind":1,"name":"x"}]}`, `{"names":[null]}`, `{"names":[{}]}`,
	`{"names":{}}`, `{"names":["x"]}`, `{"names":[{"KIND":"malware","name":"x"}]}`,
	`{"false_positives":0}`, `{"false_positives":3}`, `{"false_positives":4294967295}`, `{"false_positives":4294967296}`,
	`{"false_positives":-1}`, `{"false_positives":1.5}`, `{"false_positives":"3"}`, `{"false_positives":null}`, `{"false_positives":01}`,
}

func TestUnmarshalJSONMatchesEncodingJSONOnOddDocuments(t *testing.T) {
	for _, d := range oddDocs {
		sameUnmarshal(t, []byte(d))
	}
}

// TestUnmarshalJSONLeavesAbsentFieldsAlone: keys missing from the document keep their values,
// slices with room keep their arrays and a Geo already there is written through, as with
// encoding/json.
func TestUnmarshalJSONLeavesAbsentFieldsAlone(t *testing.T) {
	e := dirtyEvent()
	obs, geo := e.Observables, e.Geo
	doc := `{"id":"new","observables":[{"type":"ipv4","value":"203.0.113.7"},{"type":"domain","value":"x.example"}],"geo":{"lat":5,"lon":6}}`
	if err := e.UnmarshalJSON([]byte(doc)); err != nil {
		t.Fatal(err)
	}
	if e.ID != "new" || e.Title != "old" || e.Confidence != 7 || !e.Anonymise || len(e.Countries) != 2 {
		t.Fatalf("fields absent from the document changed: %+v", e)
	}
	if &e.Observables[0] != &obs[:1][0] || obs[:2][1].Value != "x.example" || e.Geo != geo || geo.Lat != 5 {
		t.Fatalf("want the old array and Geo reused: %+v", e)
	}
}

func FuzzEventJSON(f *testing.F) {
	for _, d := range oddDocs {
		f.Add([]byte(d))
	}
	for _, l := range goldenLines(f) {
		f.Add(l)
	}
	for i, e := range synthEvents(f, 11, 40) {
		doc, _ := json.Marshal((*plainEvent)(&e))
		f.Add(doc)
		if i%4 == 0 {
			var v map[string]any
			_ = json.Unmarshal(doc, &v)
			shuffled, _ := json.MarshalIndent(v, "", " ") // keys sorted, whitespace
			f.Add(shuffled)
		}
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		sameUnmarshal(t, doc)
		var e event.Event
		if e.UnmarshalJSON(doc) != nil {
			return
		}
		want, wantErr := json.Marshal((*plainEvent)(&e))
		got, err := e.AppendJSON(nil)
		if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
			t.Fatalf("marshal of %q:\n got %s, %v\nwant %s, %v", doc, got, err, want, wantErr)
		}
		roundTrips(t, &e)
	})
}
