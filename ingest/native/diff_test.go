package native_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/ingest/native"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/synth"
)

var diffSrc = event.Source{Contributor: "ee-cert", ReceivedAt: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}

// sameAsLegacy fails tb unless Parse gives the same events and the same errors, message
// for message (so the same rejected positions), as the encoding/json path it replaced.
func sameAsLegacy(tb testing.TB, doc []byte) {
	tb.Helper()
	evs, errs := native.Parse(doc, diffSrc)
	wantEvs, wantErrs := native.ParseLegacy(doc, diffSrc)
	if len(evs) != len(wantEvs) || len(evs) > 0 && !reflect.DeepEqual(evs, wantEvs) {
		for i := range min(len(evs), len(wantEvs)) {
			if !reflect.DeepEqual(evs[i], wantEvs[i]) {
				tb.Fatalf("doc %.200q: event %d\n got %+v\nwant %+v", doc, i, evs[i], wantEvs[i])
			}
		}
		tb.Fatalf("doc %.200q: %d events, want %d", doc, len(evs), len(wantEvs))
	}
	if got, want := messages(errs), messages(wantErrs); !slices.Equal(got, want) {
		tb.Fatalf("doc %.200q: errors\n got %q\nwant %q", doc, got, want)
	}
}

func messages(errs []error) []string {
	var ms []string
	for _, err := range errs {
		ms = append(ms, err.Error())
	}
	return ms
}

func TestDecoderAgreesWithEncodingJSONOnGoldenInputs(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testdataDir, "*.json"))
	if len(files) == 0 {
		t.Fatal("no golden inputs")
	}
	for _, f := range files {
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sameAsLegacy(t, doc)
		if !strings.HasPrefix(filepath.Base(f), "reject-") && !native.DecodedByDecoder(doc, diffSrc) {
			t.Errorf("%s went to encoding/json as a whole; want the decoder to read it", f)
		}
	}
}

func TestDecoderAgreesWithEncodingJSONOnFuzzCorpus(t *testing.T) {
	for _, doc := range fuzzCorpus(t) {
		sameAsLegacy(t, doc)
	}
}

func TestDecoderAgreesWithEncodingJSONOnSynthFeeds(t *testing.T) {
	gen := synth.New(7)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	var ins []native.Input
	for range 500 {
		_, in := gen.Next(now)
		ins = append(ins, in)
	}
	doc, _ := json.Marshal(ins)
	src := event.Source{Contributor: "x", ReceivedAt: now}
	evs, errs := native.Parse(doc, src)
	want, wantErrs := native.ParseLegacy(doc, src)
	if len(errs) != 0 || len(wantErrs) != 0 || len(evs) != 500 || !reflect.DeepEqual(evs, want) {
		t.Fatalf("synthetic feed: %d events, errors %v / %v", len(evs), errs, wantErrs)
	}
	if !native.DecodedByDecoder(doc, src) {
		t.Fatal("synthetic feed went to encoding/json")
	}
	for i := range ins[:50] {
		one, _ := json.Marshal(ins[i])
		sameAsLegacy(t, one)
		wrapped, _ := json.Marshal(map[string]any{"events": ins[i : i+3]})
		sameAsLegacy(t, wrapped)
	}
}

// TestDecoderAgreesWithEncodingJSONOnOddShapes lists what JSON allows and contributors
// rarely send; the second argument says whether the decoder reads it itself.
func TestDecoderAgreesWithEncodingJSONOnOddShapes(t *testing.T) {
	const head = `"id":"x","kind":"report","observed_at":"2026-11-20T10:00:00Z","severity":"low"`
	f := func(doc string, byDecoder bool) {
		t.Helper()
		sameAsLegacy(t, []byte(doc))
		if got := native.DecodedByDecoder([]byte(doc), diffSrc); got != byDecoder {
			t.Errorf("doc %.80q: decoded by the decoder %v, want %v", doc, got, byDecoder)
		}
	}
	// Strings: escapes, surrogate pairs, lone surrogates, invalid UTF-8 (U+FFFD, as
	// encoding/json), control characters (refused).
	f(`{`+head+`,"title":"\ud83d\udd25 \u00e9\u2028\"\\\/\b\f\n\r\t"}`, true)
	f(`{`+head+`,"title":"\ud800\ud800 \udc00 \ud800\u0041 \ud800x"}`, true)
	f(`{`+head+`,"title":"bad `+"\xff\xfe"+` utf-8 `+"\xe2\x82"+`"}`, true)
	f(`{`+head+`,"title":"escaped and bad \n `+"\xc3"+`"}`, true)
	f(`{`+head+`,"title":"fine `+"\xc3\xa9"+`"}`, true)
	f(`{`+head+`,"title":"ctl `+"\x01"+`"}`, false)
	f(`{`+head+`,"title":"bad escape \x"}`, false)
	f(`{`+head+`,"title":"short \u12"}`, false)
	f(`{`+head+`,"title":"unterminated}`, false)
	// Keys: other case, escaped, unknown, duplicate (last wins), in the observable too.
	f(`{`+head+`,"TITLE":"t"}`, true)
	f(`{`+head+`,"tit\u006ce":"t"}`, true)
	f(`{`+head+`,"title":"a","title":"b"}`, true)
	f(`{`+head+`,"title":"a","title":null}`, true)
	f(`{`+head+`,"observables":[{"type":"ipv4","value":"192.0.2.1","Value":"192.0.2.2"}]}`, true)
	f(`{`+head+`,"observables":[{"type":"ipv4","value":"192.0.2.1"}],"observables":[{"type":"domain"}]}`, true)
	f(`{`+head+`,"observables":[{"type":"ipv4","value":"192.0.2.1","note":1}]}`, true)
	f(`{`+head+`,"geo":{"lat":1},"geo":{"lon":2},"title":"t"}`, true)
	f(`{`+head+`,"contributor":"fr-comcyber","title":"t"}`, true)
	f(`{`+head+`,"ſummary":"long s folds to s","title":"t"}`, true)
	// Values: null, wrong types, enums in another spelling, numbers.
	f(`{"id":null,"kind":null,"observed_at":null,"valid_until":null,"observables":null,"category":null,"techniques":null,"sectors":null,"countries":null,"geo":null,"severity":null,"confidence":null,"tlp":null,"releasable_to":null,"anonymise":null,"exercise":null,"title":null,"summary":null}`, true)
	f(`{`+head+`,"observables":[null,{"type":null,"value":null}],"title":"t"}`, true)
	f(`{`+head+`,"sectors":["energy",null],"title":"t"}`, true)
	f(`{"id":"x","kind":"INCIDENT","observed_at":"2026-11-20T10:00:00Z","severity":"High","tlp":" tlp:amber+strict ","title":"t"}`, true)
	f(`{"id":"x","kind":"ſighting","observed_at":"2026-11-20T10:00:00Z","severity":"low","title":"t"}`, true)
	f(`{`+head+`,"observables":[{"type":"IPv4","value":"192.0.2.1"}]}`, true)
	f(`{`+head+`,"observables":[{"type":"ip","value":"192.0.2.1"}]}`, true)
	f(`{`+head+`,"kind":1,"title":"t"}`, true)
	f(`{`+head+`,"title":["t"]}`, true)
	f(`{`+head+`,"techniques":"T1566","title":"t"}`, true)
	f(`{`+head+`,"techniques":[1566],"title":"t"}`, true)
	f(`{`+head+`,"anonymise":"yes","title":"t"}`, true)
	f(`{`+head+`,"anonymise":true,"title":"t"}`, true)
	f(`{`+head+`,"geo":[1,2],"title":"t"}`, true)
	f(`{`+head+`,"geo":{"lat":"1"},"title":"t"}`, true)
	f(`{`+head+`,"geo":{"lat":1e999},"title":"t"}`, true)
	f(`{`+head+`,"geo":{},"title":"t"}`, true)
	f(`{`+head+`,"geo":{"lat":-0.5E-3,"lon":12.75e+1},"title":"t"}`, true)
	for _, c := range []string{"0", "-0", "100", "101", "-1", "80.0", "8e1", "99999999999999999999", "123456789012345678", "1234567890123456789", `"80"`, "true"} {
		f(`{`+head+`,"title":"t","confidence":`+c+`}`, true)
	}
	for _, c := range []string{"01", "-", "1.", ".5", "1e", "+1", "0x10", "tru", "nul", "NaN"} {
		f(`{`+head+`,"title":"t","confidence":`+c+`}`, false)
	}
	f(`{"id":"x","kind":"report","observed_at":"2026-11-20T10:00:00+05:30","valid_until":"2026-11-20T10:00:00\u005a","severity":"low","title":"t"}`, true)
	f(`{"id":"x","kind":"report","observed_at":"2026-11-20 10:00:00Z","severity":"low","title":"t"}`, true)
	f(`{"id":"x","kind":"report","observed_at":1732096800,"severity":"low","title":"t"}`, true)
	// Documents: shapes, the wrapper and look-alikes, trailing bytes, whitespace.
	f(``, false)
	f(`   `, false)
	f(`not json`, false)
	f("\ufeff{}", false)
	f("\v\u00a0{"+head+`,"title":"unicode space around"}`+"\u0085", true)
	f(`{`+head+`,"title":"t"} trailing garbage`, true)
	f(`{`+head+`,"title":"t"}{"id":"y"}`, true)
	f(`[]`, true)
	f(`[ ] trailing`, true)
	f(`[{`+head+`,"title":"t"}] ]`, true)
	f(`[{`+head+`,"title":"t"},]`, false)
	f(`[{`+head+`,"title":"t"} {`+head+`,"title":"t"}]`, false)
	f(`[{`+head+`,"title":"t"}`, false)
	f(`[{`+head+`,"title":"t"},{"id":"y"`, false)
	f(`[{`+head+`,"title":"t"}}`, false)
	f(`[,]`, false)
	f(`[null,true,1,"s",[],{}]`, true)
	f(`{"events":[{`+head+`,"title":"t"}]}`, true)
	f(`{"events":[]}`, true)
	f(`{"events":null}`, false)
	f(`{"events":{}}`, false)
	f(`{"events":[{`+head+`,"title":"t"}]} x`, false)
	f(`{"events":[{`+head+`,"title":"t"}],"events":[]}`, false)
	f(`{"Events":[{`+head+`,"title":"t"}],"x":"events"}`, false)
	f(`{"Events":[{`+head+`,"title":"t"}]}`, true)
	f(`{"meta":{"a":[1,{"b":"c"}]},"events":[{`+head+`,"title":"t"}],"n":-1.5e3}`, true)
	f(`{`+head+`,"category":"events","title":"t"}`, true)
	f(`{`+head+`,"title":"\"events\""}`, true)
	f(`{`+head+`,"title":"events","x":`+strings.Repeat("[", 300)+strings.Repeat("]", 300)+`}`, false)
	f(`[{`+head+`,"title":"t","x":`+strings.Repeat("[", 300)+strings.Repeat("]", 300)+`}]`, false)
	f(`[{`+head+`,"title":"t","x":`+strings.Repeat("[", 10001)+strings.Repeat("]", 10001)+`}]`, false)
	f(`[{`+head+`,"title":"t","x":`+strings.Repeat("[", 200)+strings.Repeat("]", 200)+`}]`, true)
}

// fuzzCorpus reads testdata/fuzz-corpus.txt: the inputs FuzzParse had found interesting
// before the decoder existed, one Go-quoted string a line.
func fuzzCorpus(tb testing.TB) [][]byte {
	fh, err := os.Open("testdata/fuzz-corpus.txt")
	if err != nil {
		tb.Fatal(err)
	}
	defer fh.Close()
	var docs [][]byte
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		s, err := strconv.Unquote(sc.Text())
		if err != nil {
			tb.Fatalf("fuzz-corpus.txt: %q: %v", sc.Text(), err)
		}
		docs = append(docs, []byte(s))
	}
	return docs
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(testdataDir, "*.json"))
	for _, name := range files {
		doc, _ := os.ReadFile(name)
		f.Add(doc)
	}
	for _, doc := range fuzzCorpus(f) {
		f.Add(doc)
	}
	f.Add([]byte(`{"events":[{"id":"a"}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		sameAsLegacy(t, doc)
		evs, _ := native.Parse(doc, diffSrc)
		for _, e := range evs {
			if e.Contributor != diffSrc.Contributor || e.ID == "" {
				t.Fatalf("accepted event without contributor or id: %+v", e)
			}
			if err := e.Validate(); err != nil {
				t.Fatalf("accepted event fails validation: %v", err)
			}
		}
	})
}
