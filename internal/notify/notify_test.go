package notify

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/alert"
	"github.com/cidcc/cop/internal/deadletter"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/keys"
	"github.com/cidcc/cop/internal/metrics"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
)

const secret = "a webhook secret of 32 bytes...."

// subject is a situation in EUFOR Althea's area (BA) unless mod says otherwise.
func subject(id string, tlp event.TLP, mod func(*picture.Situation)) alert.Alert {
	s := picture.Situation{ID: id, Version: 1, Title: "title of " + id, Kind: event.KindIncident, Severity: event.SeverityHigh, Score: 55, TLP: tlp, Countries: []string{"BA"},
		Sectors: []string{"energy"}, Contributors: []picture.Contributor{{Name: "feed-a"}}, UpdatedAt: time.Now().UTC()}
	if mod != nil {
		mod(&s)
	}
	return alert.Alert{ID: "situation:" + id + ":entered", At: time.Now().UTC(), Kind: alert.KindSituation,
		Reason: s.Title + " entered the view", Subject: s}
}

// sentinel is an alert every recipient of the tests is concerned by and may see.
func sentinel() alert.Alert {
	return subject("zz-sentinel", event.TLPClear, func(s *picture.Situation) { s.Countries = []string{"BA", "SO", "FR"}; s.Score = 80 })
}

// receiver is a loopback webhook receiver that verifies every signature itself.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	status func(n int) int // answer to the n-th request (1-based)

	mu       sync.Mutex
	got      []Payload
	at       []time.Time
	attempts []string
	bad      []string
	arrived  chan string // alert ids
}

func newReceiver(t *testing.T, status func(int) int) *receiver {
	rc := &receiver{t: t, status: status, arrived: make(chan string, 1000)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, sig := r.Header.Get("X-COP-Timestamp"), r.Header.Get("X-COP-Signature")
		// The receiver's side, written out: HMAC-SHA256(secret, timestamp "." body).
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(ts + "." + string(body)))
		want := "sha256=" + hex.EncodeToString(m.Sum(nil))
		sec, err := strconv.ParseInt(ts, 10, 64)
		rc.mu.Lock()
		if !hmac.Equal([]byte(sig), []byte(want)) || err != nil || time.Since(time.Unix(sec, 0)).Abs() > time.Minute {
			rc.bad = append(rc.bad, sig)
		}
		var p Payload
		if err := json.Unmarshal(body, &p); err != nil {
			rc.bad = append(rc.bad, "body: "+err.Error())
		}
		rc.got = append(rc.got, p)
		rc.at = append(rc.at, time.Now())
		rc.attempts = append(rc.attempts, r.Header.Get("X-COP-Attempt"))
		n := len(rc.got)
		rc.mu.Unlock()
		code := 200
		if rc.status != nil {
			code = rc.status(n)
		}
		w.WriteHeader(code)
		rc.arrived <- p.Alert.ID
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// waitFor reads arrivals until alert id came, or fails after 10 s.
func (rc *receiver) waitFor(id string) {
	rc.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got := <-rc.arrived:
			if got == id {
				return
			}
		case <-deadline:
			rc.t.Fatalf("alert %s not received in 10 s", id)
		}
	}
}

func (rc *receiver) ids() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, p := range rc.got {
		out = append(out, p.Alert.ID)
	}
	return out
}

func hook(name string, rc *receiver, mod func(*Recipient)) Recipient {
	r := Recipient{Name: name, TLPMax: event.TLPAmber, Webhook: &Webhook{URL: rc.srv.URL + "/cop", Secret: secret}}
	if mod != nil {
		mod(&r)
	}
	return r
}

func start(t *testing.T, o Options, rs ...Recipient) (*Notifier, *metrics.Registry) {
	t.Helper()
	reg := &metrics.Registry{}
	n, err := New(Config{Recipients: rs}, o, reg)
	if err != nil {
		t.Fatal(err)
	}
	n.Missions = access.DefaultMissions()
	t.Cleanup(n.Start())
	return n, reg
}

func TestWebhookReceiverGetsACorrectlySignedAlert(t *testing.T) {
	rc := newReceiver(t, nil)
	n, _ := start(t, Options{Version: "9.9"}, hook("CERT-BA", rc, func(r *Recipient) { r.Missions = []string{"EUFOR-ALTHEA"} }))
	a := subject("s-1", event.TLPAmber, nil)
	n.Raise(a)
	rc.waitFor(a.ID)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		t.Fatalf("bad signatures or bodies: %v", rc.bad)
	}
	p := rc.got[0]
	if p.Recipient != "CERT-BA" || p.Alert.ID != a.ID || p.Alert.Subject.ID != "s-1" || p.Alert.Subject.TLP != event.TLPAmber {
		t.Errorf("payload %+v", p)
	}
	// The package's Verify agrees with the receiver, and refuses a changed body or an old timestamp.
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	body := []byte(`{"x":1}`)
	sig := Sign([]byte(secret), ts, body)
	if err := Verify([]byte(secret), ts, sig, body, time.Now(), 5*time.Minute); err != nil {
		t.Errorf("Verify of a good signature: %v", err)
	}
	if err := Verify([]byte(secret), ts, sig, []byte(`{"x":2}`), time.Now(), 5*time.Minute); err != ErrBadSignature {
		t.Errorf("Verify of a changed body: %v", err)
	}
	if err := Verify([]byte(secret), ts, sig, body, time.Now().Add(time.Hour), 5*time.Minute); err != ErrStale {
		t.Errorf("Verify an hour later: %v", err)
	}
}

func TestFailingWebhookIsRetriedWithBackoffThenDeadLettered(t *testing.T) {
	rc := newReceiver(t, func(int) int { return 500 })
	var mu sync.Mutex
	var letters []deadletter.Letter
	const backoff = 40 * time.Millisecond
	reg := &metrics.Registry{}
	n, err := New(Config{Recipients: []Recipient{hook("SOC-FAILING", rc, nil)}},
		Options{Attempts: 4, Backoff: backoff, NoJitter: true}, reg)
	if err != nil {
		t.Fatal(err)
	}
	n.Missions = access.DefaultMissions()
	n.DeadLetter = func(l deadletter.Letter) { mu.Lock(); letters = append(letters, l); mu.Unlock() }
	t.Cleanup(n.Start())
	a := subject("s-fail", event.TLPGreen, nil)
	n.Raise(a)
	itest.Eventually(t, 10*time.Second, 10*time.Millisecond, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(letters) == 1, "no dead letter yet"
	})
	rc.mu.Lock()
	at, attempts := slices.Clone(rc.at), slices.Clone(rc.attempts)
	rc.mu.Unlock()
	if !slices.Equal(attempts, []string{"1", "2", "3", "4"}) {
		t.Fatalf("attempts %v, want 1 to 4", attempts)
	}
	for i := 1; i < len(at); i++ {
		if gap, least := at[i].Sub(at[i-1]), backoff<<(i-1); gap < least {
			t.Errorf("retry %d came %s after the previous attempt, want at least %s (exponential backoff)", i, gap, least)
		}
	}
	l := letters[0]
	if !strings.Contains(l.Reason, "4 attempt(s)") || !strings.Contains(l.Reason, "HTTP 500") || !strings.Contains(l.Source, "SOC-FAILING") {
		t.Errorf("dead letter reason %q source %q", l.Reason, l.Source)
	}
	var p Payload
	if err := json.Unmarshal(l.Raw, &p); err != nil || p.Alert.ID != a.ID {
		t.Errorf("dead letter raw: %v %s", err, l.Raw)
	}
	st := n.Status()[0]
	if st.Retried != 3 || st.DeadLettered != 1 || st.Sent != 0 {
		t.Errorf("status %+v", st)
	}

	// A 4xx is not retried.
	rc2 := newReceiver(t, func(int) int { return 403 })
	n2, _ := start(t, Options{Attempts: 4, Backoff: backoff}, hook("SOC-REFUSING", rc2, nil))
	n2.Raise(a)
	rc2.waitFor(a.ID)
	itest.Eventually(t, 5*time.Second, 10*time.Millisecond, func() (bool, string) {
		return n2.Status()[0].DeadLettered == 1, "not dead-lettered"
	})
	if got := rc2.ids(); len(got) != 1 {
		t.Errorf("a 403 was retried: %d attempts", len(got))
	}
}

// TestDeadLetterOfAnAlertReachesClickHouse: the dead letter goes where every other does.
func TestDeadLetterOfAnAlertReachesClickHouse(t *testing.T) {
	_, ch := itest.Services(t)
	ctx := context.Background()
	st, err := store.Open(ctx, ch, itest.Database())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rc := newReceiver(t, func(int) int { return 503 })
	name := "SOC-" + itest.Namespace(t)
	n, err := New(Config{Recipients: []Recipient{hook(name, rc, nil)}}, Options{Attempts: 2, Backoff: 10 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	n.Missions = access.DefaultMissions()
	n.DeadLetter = func(l deadletter.Letter) {
		if err := st.WriteDeadLetters(ctx, []deadletter.Letter{l}); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(n.Start())
	n.Raise(subject("s-dl", event.TLPGreen, nil))
	itest.Eventually(t, 10*time.Second, 50*time.Millisecond, func() (bool, string) {
		var c uint64
		err := st.Conn().QueryRow(ctx, `SELECT count() FROM cop.deadletter WHERE source LIKE ? AND format = 'alert-webhook'
			AND position(reason, '2 attempt(s)') > 0`, "notify:webhook:"+name+"/%").Scan(&c)
		return err == nil && c == 1, "dead letter not in cop.deadletter"
	})
}

// TestRecipientsGetOnlyWhatConcernsThemAndTheyMaySee: clearance and area, as a viewer.
func TestRecipientsGetOnlyWhatConcernsThemAndTheyMaySee(t *testing.T) {
	rcs := map[string]*receiver{}
	var rs []Recipient
	for _, r := range []Recipient{
		{Name: "CERT-GREEN", TLPMax: event.TLPGreen},
		{Name: "LO-ALTHEA", TLPMax: event.TLPAmber, Missions: []string{"EUFOR-ALTHEA"}},
		{Name: "LO-ATALANTA", TLPMax: event.TLPRed, Missions: []string{"EUNAVFOR-ATALANTA"}},
		{Name: "CERT-FR", TLPMax: event.TLPRed, Countries: []string{"FR"}, Kinds: []alert.Kind{alert.KindSituation}},
		{Name: "SOC-CRITICAL", TLPMax: event.TLPRed, MinScore: 60, Exercises: []string{"CYDEF-X"}},
	} {
		rc := newReceiver(t, nil)
		rcs[r.Name] = rc
		r.Webhook = &Webhook{URL: rc.srv.URL, Secret: secret}
		rs = append(rs, r)
	}
	n, _ := start(t, Options{}, rs...)
	n.Anon = access.Anonymiser{}
	alerts := []alert.Alert{
		subject("amber", event.TLPAmber, nil),
		subject("green", event.TLPGreen, nil),
		subject("red-named", event.TLPRed, func(s *picture.Situation) {
			s.ReleasableTo = []string{"EUNAVFOR-ATALANTA"}
			s.Countries = []string{"SO"}
		}),
		subject("red-unnamed", event.TLPRed, func(s *picture.Situation) { s.Countries = []string{"SO"} }),
		subject("rel-other", event.TLPGreen, func(s *picture.Situation) { s.ReleasableTo = []string{"CERT-EU"} }),
		subject("fr", event.TLPGreen, func(s *picture.Situation) { s.Countries = []string{"FR"} }),
		subject("exercise", event.TLPGreen, func(s *picture.Situation) { s.Exercise = "CYDEF-X"; s.Score = 70; s.Countries = []string{"FR"} }),
		subject("hot", event.TLPGreen, func(s *picture.Situation) { s.Score = 65 }),
	}
	crisis := subject("crisis-fr", event.TLPGreen, func(s *picture.Situation) { s.Countries = []string{"FR"} })
	crisis.Kind, crisis.ID = alert.KindCrisis, "crisis:fr"
	for _, a := range append(alerts, crisis, sentinel()) {
		n.Raise(a)
	}
	want := map[string][]string{
		"CERT-GREEN":   {"green", "fr", "hot", "crisis:fr"},
		"LO-ALTHEA":    {"amber", "green", "hot"},
		"LO-ATALANTA":  {"red-named"},
		"CERT-FR":      {"fr"},
		"SOC-CRITICAL": {"exercise", "hot"},
	}
	for name, rc := range rcs {
		rc.waitFor(sentinel().ID)
		var got []string
		for _, id := range rc.ids() {
			if id != sentinel().ID {
				got = append(got, strings.TrimSuffix(strings.TrimPrefix(id, "situation:"), ":entered"))
			}
		}
		if !slices.Equal(got, want[name]) {
			t.Errorf("%s got %v, want %v", name, got, want[name])
		}
	}
}

func TestFullQueueDropsWithoutBlockingAndCounts(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, func(int) int { <-release; return 200 })
	n, reg := start(t, Options{Queue: 2}, hook("SOC-SLOW", rc, nil))
	t.Cleanup(func() { close(release) })
	begin := time.Now()
	for i := range 50 {
		n.Raise(subject("s-"+strconv.Itoa(i), event.TLPGreen, nil))
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("50 raises took %s: Raise waited for the receiver", d)
	}
	itest.Eventually(t, 5*time.Second, 10*time.Millisecond, func() (bool, string) {
		st := n.Status()[0]
		return st.Dropped >= 47 && st.Dropped <= 48, "dropped " + strconv.FormatUint(st.Dropped, 10)
	})
	var b strings.Builder
	reg.WriteTo(&b)
	if !strings.Contains(b.String(), `cop_notify_dropped_total{recipient="SOC-SLOW"} 4`) {
		t.Errorf("metrics lack the drops:\n%s", b.String())
	}
}

// parseCEF splits a CEF record into its header fields and extension, unescaping both.
func parseCEF(t *testing.T, rec string) (header []string, ext map[string]string) {
	t.Helper()
	var cur strings.Builder
	i := 0
	for ; i < len(rec) && len(header) < 7; i++ {
		switch c := rec[i]; {
		case c == '\\' && i+1 < len(rec):
			i++
			cur.WriteByte(rec[i])
		case c == '|':
			header = append(header, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if len(header) != 7 {
		t.Fatalf("CEF header has %d fields: %q", len(header), rec)
	}
	ext = map[string]string{}
	key := regexp.MustCompile(`(?:^| )([A-Za-z0-9]+)=`)
	rest := rec[i:]
	locs := key.FindAllStringSubmatchIndex(rest, -1)
	// A key starts only where '=' is not escaped: the value escapes every '='.
	for j, l := range locs {
		end := len(rest)
		if j+1 < len(locs) {
			end = locs[j+1][0]
		}
		v := rest[l[1]:end]
		var u strings.Builder
		for k := 0; k < len(v); k++ {
			if v[k] == '\\' && k+1 < len(v) {
				k++
				switch v[k] {
				case 'n':
					u.WriteByte('\n')
				case 'r':
					u.WriteByte('\r')
				default:
					u.WriteByte(v[k])
				}
				continue
			}
			u.WriteByte(v[k])
		}
		ext[rest[l[2]:l[3]]] = u.String()
	}
	return header, ext
}

var rfc5424 = regexp.MustCompile(`^<(\d+)>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) cop (\d+) (\S+) - (CEF:0\|.*)$`)

// syslogTCP is a loopback syslog receiver over TCP: its address, and the lines it reads
// from its first connection.
func syslogTCP(t *testing.T) (string, <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	lines := make(chan string, 10)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return ln.Addr().String(), lines
}

func TestSyslogTCPReceiverGetsAParseableCEFLineWithEscaping(t *testing.T) {
	addr, lines := syslogTCP(t)
	n, _ := start(t, Options{Version: "1.2|3"}, Recipient{Name: "SIEM-TCP", TLPMax: event.TLPAmber,
		Syslog: &Syslog{Address: addr, Network: "tcp", Format: "CEF"}})
	title := `Grid | SCADA \ intrusion a=b`
	reason := "first line\nsecond = line\r\nthird | \\ end"
	a := subject("s-cef", event.TLPAmber, func(s *picture.Situation) { s.Title = title; s.Score = 72.4; s.Countries = []string{"BA", "HR"} })
	a.Reason = reason
	n.Raise(a)
	var line string
	select {
	case line = <-lines:
	case <-time.After(10 * time.Second):
		t.Fatal("no syslog line in 10 s")
	}
	m := rfc5424.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("not an RFC 5424 line carrying CEF: %q", line)
	}
	if pri, _ := strconv.Atoi(m[1]); pri != 16*8+3 { // local0, error (CEF severity 7)
		t.Errorf("PRI %d, want %d", pri, 16*8+3)
	}
	if m[5] != "situation" {
		t.Errorf("MSGID %q", m[5])
	}
	h, ext := parseCEF(t, m[6])
	if want := []string{"CEF:0", "CIDCC", "COP", "1.2|3", "situation.entered", title, "7"}; !slices.Equal(h, want) {
		t.Errorf("header %q, want %q", h, want)
	}
	for k, v := range map[string]string{"msg": reason, "externalId": a.ID, "cat": "situation", "cs1": "s-cef", "cs1Label": "subjectId",
		"cs2": "AMBER", "cs3": "BA,HR", "cs4": "energy", "cn1": "72", "cn1Label": "score"} {
		if ext[k] != v {
			t.Errorf("extension %s = %q, want %q", k, ext[k], v)
		}
	}
	if ext["rt"] != strconv.FormatInt(a.At.UnixMilli(), 10) {
		t.Errorf("rt %q", ext["rt"])
	}
}

func TestSyslogUDPReceiverGetsOneDatagramALine(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	n, _ := start(t, Options{}, Recipient{Name: "SIEM-UDP", TLPMax: event.TLPAmber,
		Syslog: &Syslog{Address: pc.LocalAddr().String(), Network: "udp"}})
	n.Raise(subject("s-udp", event.TLPGreen, nil))
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 65536)
	k, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if line := string(buf[:k]); !rfc5424.MatchString(line) || strings.Contains(line, "\n") {
		t.Errorf("datagram %q", line)
	}
}

func TestRecipientsFileErrorsNameTheField(t *testing.T) {
	f := func(r Recipient, want string) {
		t.Helper()
		err := Config{Recipients: []Recipient{r}}.Check()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v, want %q", r, err, want)
		}
	}
	wh := &Webhook{URL: "https://soc.example/hook", Secret: secret}
	f(Recipient{Name: "a b", TLPMax: 2, Webhook: wh}, "recipients[0].name")
	f(Recipient{Name: "x", Webhook: wh}, "recipients[0].tlp_max")
	f(Recipient{Name: "x", TLPMax: 2}, "exactly one of webhook and syslog")
	f(Recipient{Name: "x", TLPMax: 2, Webhook: &Webhook{URL: "ftp://x", Secret: secret}}, "webhook.url")
	f(Recipient{Name: "x", TLPMax: 2, Webhook: &Webhook{URL: "https://x", Secret: "short"}}, "webhook.secret")
	f(Recipient{Name: "x", TLPMax: 2, Syslog: &Syslog{Address: "x:514", Network: "sctp"}}, "syslog.network")
	f(Recipient{Name: "x", TLPMax: 2, Syslog: &Syslog{Address: "x", Network: "tcp"}}, "syslog.address")
	f(Recipient{Name: "x", TLPMax: 2, Syslog: &Syslog{Address: "x:514", Network: "tcp", Format: "LEEF"}}, "syslog.format")
	f(Recipient{Name: "x", TLPMax: 2, Webhook: wh, Kinds: []alert.Kind{"weather"}}, "kinds")
	f(Recipient{Name: "x", TLPMax: 2, Webhook: wh, Missions: []string{"NOWHERE"}}, "missions")
	if err := (Config{Recipients: []Recipient{{Name: "x", TLPMax: 2, Webhook: wh}, {Name: "X", TLPMax: 2, Webhook: wh}}}).Check(); err == nil {
		t.Error("a name given twice was accepted")
	}
}

// An anonymised contributor reaches an outbound recipient as the pseudonym that recipient
// is given, never by name: in the webhook's body and in the syslog line.
func TestOutboundAlertsNameAnonymisedContributorsByPseudonym(t *testing.T) {
	rc := newReceiver(t, nil)
	addr, lines := syslogTCP(t)
	reg := &metrics.Registry{}
	n, err := New(Config{Recipients: []Recipient{hook("CERT-BA", rc, nil),
		{Name: "SIEM-TCP", TLPMax: event.TLPAmber, Syslog: &Syslog{Address: addr, Network: "tcp", Format: "CEF"}}}}, Options{}, reg)
	if err != nil {
		t.Fatal(err)
	}
	n.Missions = access.DefaultMissions()
	n.Anon = access.Anonymiser{Keys: keys.Fixed(keys.Set{IDs: keys.Key{Secret: []byte("ids")}, Pseudonyms: keys.Key{Secret: []byte("pseudonyms")}})}
	t.Cleanup(n.Start())
	a := subject("s-anon", event.TLPAmber, func(s *picture.Situation) {
		s.Contributors = []picture.Contributor{{Name: "secret-agency-cert", Anonymise: true}, {Name: "feed-a"}}
	})
	n.Raise(a)
	rc.waitFor(a.ID)
	var line string
	select {
	case line = <-lines:
	case <-time.After(10 * time.Second):
		t.Fatal("no syslog line in 10 s")
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	body, _ := json.Marshal(rc.got[0])
	if strings.Contains(string(body), "secret-agency-cert") || strings.Contains(line, "secret-agency-cert") {
		t.Fatalf("the anonymised contributor is named:\nwebhook %s\nsyslog %s", body, line)
	}
	want := n.Anon.Pseudonym("CERT-BA", "secret-agency-cert")
	var names []string
	for _, c := range rc.got[0].Alert.Subject.Contributors {
		names = append(names, c.Name)
	}
	if !slices.Contains(names, want) || !slices.Contains(names, "feed-a") {
		t.Errorf("webhook contributors %q, want the pseudonym %q and feed-a", names, want)
	}
}
