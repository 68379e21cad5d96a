package main

// cop pull: take what a partner publishes, with the partner's own protocol, and push it into
// COP through the HTTP gateway exactly as `cop push` does (the same parsers, the same dead
// letter for what they reject, the contributor the COP token names). Two sources:
//
//   - taxii: a TAXII 2.1 server's collection (discovery → API root → collections → objects,
//     paged with added_after and next); the position is X-TAXII-Date-Added-Last.
//   - misp: a MISP feed (manifest.json + <uuid>.json, the layout MISP instances and public
//     OSINT feeds publish) or a MISP instance's /events/restSearch with an API key; the
//     position is each event's timestamp (feed) or the newest timestamp seen (REST).
//
// Positions live in a state file keyed by (source, collection), written after every push
// that COP answered, so a re-run or a restart pulls only what is new.

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cidcc/cop/ingest"
)

const pullUsage = `cop pull taxii URL --collection ID [flags]   a partner's TAXII 2.1 collection
cop pull misp URL [flags]                    a MISP feed (URL of its manifest.json's folder),
                                             or a MISP instance's REST API with --key`

// pullConfig is `cop pull`'s flags (one set for both sources).
type pullConfig struct {
	copURL, copToken, contributor, state, since string
	collection, user, password, token, key, ca  string
	limit                                       int
	every                                       time.Duration
}

func pullFlags(c *pullConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("pull", flag.ContinueOnError)
	fs.StringVar(&c.copURL, "cop-url", env("COP_URL", "http://127.0.0.1:8080"), "COP's base URL (COP_URL)")
	fs.StringVar(&c.copToken, "cop-token", os.Getenv("COP_TOKEN"), "the contributor token COP files what is pulled under (COP_TOKEN)")
	fs.StringVar(&c.contributor, "contributor", os.Getenv("COP_PULL_CONTRIBUTOR"), "refuse to pull unless the COP token is this contributor's (COP_PULL_CONTRIBUTOR)")
	fs.StringVar(&c.state, "state", env("COP_PULL_STATE", defaultPullState()), "file that remembers what was pulled (COP_PULL_STATE)")
	fs.StringVar(&c.since, "since", "", "pull what was added after this time (RFC 3339, or a duration back from now: 24h, 7d); default: where the last run stopped, else everything")
	fs.StringVar(&c.collection, "collection", "", "taxii: the id of the collection to pull")
	fs.StringVar(&c.user, "user", os.Getenv("COP_PULL_USER"), "taxii: HTTP basic user name (COP_PULL_USER)")
	fs.StringVar(&c.password, "password", os.Getenv("COP_PULL_PASSWORD"), "taxii: HTTP basic password (COP_PULL_PASSWORD)")
	fs.StringVar(&c.token, "token", os.Getenv("COP_PULL_TOKEN"), "taxii or misp feed: bearer token of the partner's server (COP_PULL_TOKEN)")
	fs.StringVar(&c.key, "key", os.Getenv("COP_PULL_MISP_KEY"), "misp: API key of a MISP instance; URL is then the instance, read with /events/restSearch (COP_PULL_MISP_KEY)")
	fs.StringVar(&c.ca, "ca", os.Getenv("COP_PULL_CA"), "PEM file of the CA that signs the partner's TLS certificate (COP_PULL_CA)")
	fs.IntVar(&c.limit, "limit", 500, "objects (taxii) or events (misp REST) asked for per page")
	fs.DurationVar(&c.every, "every", 0, "pull again at this interval until stopped (0: once)")
	return fs
}

const pullEnv = `
Environment (each sets the flag of the same meaning; flags win):
  COP_URL, COP_TOKEN     COP's base URL and the contributor token (--cop-url, --cop-token)
  COP_PULL_CONTRIBUTOR   the contributor the COP token must be (--contributor)
  COP_PULL_STATE         the state file (--state)
  COP_PULL_USER, COP_PULL_PASSWORD, COP_PULL_TOKEN, COP_PULL_MISP_KEY, COP_PULL_CA
                         the partner's credentials and CA (--user, --password, --token, --key, --ca)

Examples:
  cop pull taxii https://cti.partner.example/taxii2/ --collection 91a7b528-80eb-42ed-a74d-c6fbd5a26116 --user cop --password …
  cop pull misp https://feeds.partner.example/misp/feed-osint --since 30d
  cop pull misp https://misp.partner.example --key …

Each run pulls from where the last one stopped (the state file, keyed by server and
collection); objects COP rejects are listed and kept in its dead letter, and do not stop
the pull. The exit status is 1 when the partner or COP could not be read or written.`

func defaultPullState() string {
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "cop", "pull-state.json")
	}
	return ".cop-pull-state.json"
}

func runPull(ctx context.Context, args []string) error { return pull(ctx, args, os.Stderr) }

// pull runs `cop pull` with its progress, reasons and summary written to out.
func pull(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] != "taxii" && args[0] != "misp" {
		return errors.New("name the source: " + pullUsage)
	}
	kind := args[0]
	var c pullConfig
	fs := pullFlags(&c)
	// Flags may come before or after the URL.
	var rest []string
	for a := args[1:]; ; {
		if err := fs.Parse(a); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		a = fs.Args()[1:]
	}
	if len(rest) != 1 {
		return fmt.Errorf("want one URL after %q, got %d: %s", kind, len(rest), pullUsage)
	}
	base, err := url.Parse(rest[0])
	if err != nil || base.Scheme != "http" && base.Scheme != "https" || base.Host == "" {
		return fmt.Errorf("URL: want http:// or https:// and a host, got %q", rest[0])
	}
	if c.copToken == "" {
		return errors.New("no COP token: set COP_TOKEN or --cop-token (a contributor's token)")
	}
	if kind == "taxii" && c.collection == "" {
		return errors.New("--collection: name the id of the collection to pull (the server's collections/ lists them)")
	}
	since, err := parseSince(c.since, time.Now())
	if err != nil {
		return err
	}
	client, err := pullClient(c.ca)
	if err != nil {
		return err
	}
	p := &puller{cfg: c, base: base, since: since, http: client, out: out,
		push: &pusher{url: strings.TrimRight(c.copURL, "/"), token: c.copToken, start: time.Now(), out: out}}
	if err := p.checkContributor(ctx); err != nil {
		return err
	}
	for {
		p.push.start, p.push.accepted, p.push.rejected = time.Now(), 0, 0
		if kind == "taxii" {
			err = p.taxii(ctx)
		} else {
			err = p.misp(ctx)
		}
		if err != nil || c.every <= 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(c.every):
		}
	}
}

// parseSince reads --since: RFC 3339, a date, or a duration back from now (24h, 7d).
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if n, err := strconv.Atoi(strings.TrimSuffix(s, "d")); err == nil && strings.HasSuffix(s, "d") && n >= 0 {
		return now.Add(-time.Duration(n) * 24 * time.Hour).UTC(), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("--since: want an RFC 3339 time (2026-11-20T00:00:00Z), a date (2026-11-20) or a duration (24h, 7d), got %q", s)
}

func pullClient(ca string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("--ca: cannot read %s: %w", ca, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca: %s holds no PEM certificate", ca)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}, nil
}

type puller struct {
	cfg   pullConfig
	base  *url.URL
	since time.Time
	http  *http.Client
	push  *pusher
	out   io.Writer
}

// checkContributor asks COP who the token is, so a pull never files a partner's feed under
// the wrong contributor, and an unusable token fails before the partner is read.
func (p *puller) checkContributor(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, "GET", p.push.url+"/api/v1/whoami", nil)
	if err != nil {
		return fmt.Errorf("--cop-url: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+p.push.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach COP at %s: %s", p.push.url, netWords(err))
	}
	defer resp.Body.Close()
	var who struct{ Name, Role string }
	if resp.StatusCode == http.StatusUnauthorized {
		return errors.New("COP refused the token (401): COP_TOKEN or --cop-token must be a contributor's token")
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&who) != nil {
		return fmt.Errorf("COP at %s answered %s to whoami: is --cop-url COP's base URL?", p.push.url, resp.Status)
	}
	if who.Role != "contributor" {
		return fmt.Errorf("the COP token is %s's, a %s: pulling needs a contributor's token", who.Name, who.Role)
	}
	if p.cfg.contributor != "" && who.Name != p.cfg.contributor {
		return fmt.Errorf("--contributor %s: the COP token is %s's; pulled events would be filed under %s", p.cfg.contributor, who.Name, who.Name)
	}
	p.push.file = who.Name
	return nil
}

// netWords says in words why a request got no answer.
func netWords(err error) string {
	var dns *net.DNSError
	var op *net.OpError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	switch {
	case errors.As(err, &dns):
		return "host " + dns.Name + " not found"
	case errors.As(err, &unknownCA):
		return "its TLS certificate is not signed by a CA this machine trusts (--ca names the partner's CA)"
	case errors.As(err, &hostname):
		return "its TLS certificate is not for this host name"
	case errors.Is(err, context.DeadlineExceeded), os.IsTimeout(err):
		return "no answer in time"
	case errors.As(err, &op) && op.Op == "dial":
		return "nothing answers there (connection refused or unreachable)"
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return "it speaks plain HTTP: use an http:// URL"
	case strings.Contains(err.Error(), "tls:"):
		return "the TLS handshake failed (is it an https:// server?)"
	}
	return "the connection failed"
}

// get fetches u from the partner with its credentials; it returns the body, the response
// and an error in words for anything but 200.
func (p *puller) get(ctx context.Context, method, u, accept string, body []byte) ([]byte, *http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, nil, fmt.Errorf("URL %s: %w", u, err)
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "cop/"+version)
	switch {
	case p.cfg.key != "":
		req.Header.Set("Authorization", p.cfg.key)
		req.Header.Set("Content-Type", "application/json")
	case p.cfg.token != "":
		req.Header.Set("Authorization", "Bearer "+p.cfg.token)
	case p.cfg.user != "":
		req.SetBasicAuth(p.cfg.user, p.cfg.password)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, fmt.Errorf("cannot reach %s: %s", req.URL.Host, netWords(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, resp, fmt.Errorf("%s: the answer was cut short: %s", u, netWords(err))
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return b, resp, nil
	case http.StatusUnauthorized:
		return nil, resp, fmt.Errorf("%s refused the credentials (401 Unauthorized): give --user and --password, --token or --key", req.URL.Host)
	case http.StatusForbidden:
		return nil, resp, fmt.Errorf("%s: these credentials may not read it (403 Forbidden)", u)
	case http.StatusNotFound:
		return nil, resp, fmt.Errorf("%s: not found (404)", u)
	case http.StatusNotAcceptable:
		return nil, resp, fmt.Errorf("%s: the server does not serve %s (406)", u, accept)
	}
	return nil, resp, fmt.Errorf("%s answered %s: %s", u, resp.Status, oneLine(b, 200))
}

func oneLine(b []byte, n int) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// ---- TAXII 2.1 ----

const (
	taxiiAccept = "application/taxii+json;version=2.1"
	// pullBatchBytes bounds the STIX bundle one push carries (the gateway takes 32 MiB).
	pullBatchBytes = 8 << 20
)

// taxiiJSON decodes a TAXII answer, saying so when it is not TAXII.
func taxiiJSON(b []byte, resp *http.Response, what string, v any) error {
	ct := strings.ToLower(resp.Header.Get("Content-Type"))
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s answered %s, not TAXII 2.1 JSON (%s): is it a TAXII 2.1 %s URL?", resp.Request.URL, orNone(ct), oneLine(b, 80), what)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "no content type"
	}
	return s
}

// taxiiAPIRoot finds the API root from URL: a discovery URL (its default root, else its
// only one) or an API root itself.
func (p *puller) taxiiAPIRoot(ctx context.Context) (*url.URL, error) {
	u := *p.base
	if u.Path == "" || u.Path == "/" {
		u.Path = "/taxii2/" // TAXII 2.1's discovery, where servers usually put it
	}
	b, resp, err := p.get(ctx, "GET", u.String(), taxiiAccept, nil)
	if err != nil {
		return nil, err
	}
	var d struct {
		Default  string   `json:"default"`
		APIRoots []string `json:"api_roots"`
		Versions []string `json:"versions"`
		Title    *string  `json:"title"`
	}
	if err := taxiiJSON(b, resp, "discovery", &d); err != nil {
		return nil, err
	}
	if d.APIRoots == nil && d.Default == "" {
		if len(d.Versions) > 0 || d.Title != nil && strings.Contains(resp.Header.Get("Content-Type"), "taxii") {
			if len(d.Versions) > 0 && !containsFold(d.Versions, "version=2.1") {
				return nil, fmt.Errorf("%s is a TAXII API root for %s, not TAXII 2.1", u.String(), strings.Join(d.Versions, ", "))
			}
			if !strings.HasSuffix(u.Path, "/") {
				u.Path += "/"
			}
			return &u, nil // URL is an API root
		}
		return nil, fmt.Errorf("%s answered %s without api_roots: not a TAXII 2.1 discovery URL (it usually ends in /taxii2/)", u.String(), orNone(resp.Header.Get("Content-Type")))
	}
	root := d.Default
	if root == "" {
		if len(d.APIRoots) != 1 {
			return nil, fmt.Errorf("%s lists %d API roots and no default: give the URL of one of them (%s)", u.String(), len(d.APIRoots), strings.Join(d.APIRoots, ", "))
		}
		root = d.APIRoots[0]
	}
	r, err := u.Parse(root)
	if err != nil {
		return nil, fmt.Errorf("%s: its API root %q is not a URL", u.String(), root)
	}
	if !strings.HasSuffix(r.Path, "/") {
		r.Path += "/"
	}
	return r, nil
}

func containsFold(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(strings.ReplaceAll(strings.ToLower(s), " ", ""), sub) {
			return true
		}
	}
	return false
}

func (p *puller) taxii(ctx context.Context) error {
	root, err := p.taxiiAPIRoot(ctx)
	if err != nil {
		return err
	}
	// The collection, checked for existence and can_read; the error lists the others.
	b, resp, err := p.get(ctx, "GET", root.String()+"collections/", taxiiAccept, nil)
	if err != nil {
		return err
	}
	var cs struct {
		Collections []struct {
			ID, Title string
			CanRead   bool `json:"can_read"`
		} `json:"collections"`
	}
	if err := taxiiJSON(b, resp, "API root", &cs); err != nil {
		return err
	}
	found := false
	var ids []string
	for _, c := range cs.Collections {
		ids = append(ids, c.ID+" ("+c.Title+")")
		if c.ID == p.cfg.collection {
			if !c.CanRead {
				return fmt.Errorf("--collection %s: the server says these credentials may not read it (can_read false)", c.ID)
			}
			found = true
		}
	}
	if !found {
		if len(ids) == 0 {
			return fmt.Errorf("--collection %s: %s lists no collection these credentials may see", p.cfg.collection, root.String())
		}
		return fmt.Errorf("--collection %s: not at %s, which has: %s", p.cfg.collection, root.String(), strings.Join(ids, ", "))
	}

	key := "taxii " + root.String() + " " + p.cfg.collection
	st, err := loadPullState(p.cfg.state)
	if err != nil {
		return err
	}
	after := p.since
	if after.IsZero() {
		after = st.Positions[key].AddedAfter
	}
	from := "the start"
	if !after.IsZero() {
		from = after.Format(time.RFC3339Nano)
	}
	fmt.Fprintf(p.out, "pull: collection %s at %s, objects added after %s\n", p.cfg.collection, root.String(), from)

	objectsURL := root.String() + "collections/" + url.PathEscape(p.cfg.collection) + "/objects/"
	var batch []json.RawMessage
	var batchBytes int
	var batchLast time.Time // the date added of the newest object in batch
	pages, objects := 0, 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		bundle, _ := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--" + pseudoUUID(key+"|"+batchLast.String()), "objects": batch})
		if err := p.push.send(ctx, ingest.FormatSTIX, bundle); err != nil {
			return err
		}
		batch, batchBytes = batch[:0], 0
		if !batchLast.IsZero() {
			st.Positions[key] = pullPosition{AddedAfter: batchLast, Pulled: time.Now().UTC()}
			return st.save(p.cfg.state)
		}
		return nil
	}
	next := ""
	for {
		q := url.Values{}
		q.Set("limit", strconv.Itoa(p.cfg.limit))
		if !after.IsZero() {
			q.Set("added_after", after.UTC().Format("2006-01-02T15:04:05.000000Z"))
		}
		if next != "" {
			q.Set("next", next)
		}
		b, resp, err := p.get(ctx, "GET", objectsURL+"?"+q.Encode(), taxiiAccept, nil)
		if err != nil {
			return err
		}
		var env struct {
			More    bool              `json:"more"`
			Next    string            `json:"next"`
			Objects []json.RawMessage `json:"objects"`
		}
		if err := taxiiJSON(b, resp, "objects", &env); err != nil {
			return err
		}
		pages++
		objects += len(env.Objects)
		for _, o := range env.Objects {
			batch = append(batch, o)
			batchBytes += len(o)
		}
		if last := resp.Header.Get("X-TAXII-Date-Added-Last"); last != "" {
			t, err := time.Parse(time.RFC3339Nano, last)
			if err != nil {
				return fmt.Errorf("%s: X-TAXII-Date-Added-Last %q is not an RFC 3339 time", objectsURL, last)
			}
			batchLast = t
		} else if len(env.Objects) > 0 {
			fmt.Fprintf(p.out, "pull: %s sent no X-TAXII-Date-Added-Last: the next run starts from the same point (COP counts repeats once)\n", root.Host)
		}
		if batchBytes >= pullBatchBytes {
			if err := flush(); err != nil {
				return err
			}
		}
		if !env.More || len(env.Objects) == 0 {
			break
		}
		if env.Next == "" {
			// TAXII 2.1 servers without next page by added_after.
			if batchLast.IsZero() || !batchLast.After(after) {
				return fmt.Errorf("%s: more is true but neither next nor X-TAXII-Date-Added-Last says where the next page starts", objectsURL)
			}
			after = batchLast
		}
		next = env.Next
	}
	if err := flush(); err != nil {
		return err
	}
	if objects == 0 {
		fmt.Fprintf(p.out, "pull: nothing new in collection %s\n", p.cfg.collection)
	}
	p.push.summary()
	fmt.Fprintf(p.out, "pull: %d objects in %d pages; position kept in %s\n", objects, pages, p.cfg.state)
	return nil
}

// pseudoUUID returns a UUID-shaped id derived from s (for bundle ids).
func pseudoUUID(s string) string {
	h := sha1.Sum([]byte(s))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

// ---- MISP ----

func (p *puller) misp(ctx context.Context) error {
	st, err := loadPullState(p.cfg.state)
	if err != nil {
		return err
	}
	if p.cfg.key != "" {
		return p.mispREST(ctx, st)
	}
	return p.mispFeed(ctx, st)
}

// mispFeed pulls a MISP feed: manifest.json lists the events with their timestamps; an
// event is fetched when it is new or its timestamp moved since the last pull.
func (p *puller) mispFeed(ctx context.Context, st *pullState) error {
	base := strings.TrimSuffix(strings.TrimRight(p.base.String(), "/"), "/manifest.json")
	key := "misp-feed " + base
	b, resp, err := p.get(ctx, "GET", base+"/manifest.json", "application/json", nil)
	if err != nil {
		return err
	}
	var manifest map[string]struct {
		Info      string          `json:"info"`
		Timestamp json.RawMessage `json:"timestamp"`
	}
	if err := json.Unmarshal(b, &manifest); err != nil {
		return fmt.Errorf("%s/manifest.json answered %s, not a MISP feed manifest (a JSON object of event UUIDs): %s", base, orNone(resp.Header.Get("Content-Type")), oneLine(b, 80))
	}
	pos := st.Positions[key]
	if pos.Events == nil {
		pos.Events = map[string]int64{}
	}
	type todo struct {
		uuid string
		ts   int64
	}
	var list []todo
	for id, m := range manifest {
		ts, err := strconv.ParseInt(strings.Trim(string(m.Timestamp), `"`), 10, 64)
		if err != nil {
			return fmt.Errorf("%s/manifest.json: event %s: timestamp %s: want Unix seconds", base, id, oneLine(m.Timestamp, 40))
		}
		if !isUUID(id) {
			return fmt.Errorf("%s/manifest.json: key %q: want an event UUID", base, id)
		}
		if !p.since.IsZero() && ts < p.since.Unix() || pos.Events[id] >= ts {
			continue
		}
		list = append(list, todo{id, ts})
	}
	sort.Slice(list, func(i, j int) bool {
		return list[i].ts < list[j].ts || list[i].ts == list[j].ts && list[i].uuid < list[j].uuid
	})
	fmt.Fprintf(p.out, "pull: MISP feed %s: %d events listed, %d new or changed\n", base, len(manifest), len(list))
	for i, t := range list {
		b, _, err := p.get(ctx, "GET", base+"/"+t.uuid+".json", "application/json", nil)
		if err != nil {
			return err
		}
		p.push.file = t.uuid + ".json"
		if err := p.push.send(ctx, ingest.FormatMISP, b); err != nil {
			return err
		}
		pos.Events[t.uuid] = t.ts
		pos.Pulled = time.Now().UTC()
		if i%50 == 49 || i == len(list)-1 {
			st.Positions[key] = pos
			if err := st.save(p.cfg.state); err != nil {
				return err
			}
		}
	}
	p.push.summary()
	return nil
}

// mispREST pulls a MISP instance's /events/restSearch, newest timestamp first remembered.
func (p *puller) mispREST(ctx context.Context, st *pullState) error {
	base := strings.TrimSuffix(strings.TrimRight(p.base.String(), "/"), "/events/restSearch")
	key := "misp-rest " + base
	pos := st.Positions[key]
	from := pos.Timestamp
	if !p.since.IsZero() {
		from = p.since.Unix()
	}
	fmt.Fprintf(p.out, "pull: MISP %s, events with a timestamp from %d\n", base, from)
	newest := from
	for page := 1; ; page++ {
		q := map[string]any{"returnFormat": "json", "page": page, "limit": p.cfg.limit, "includeEventTags": true}
		if from > 0 {
			q["timestamp"] = from
		}
		body, _ := json.Marshal(q)
		b, resp, err := p.get(ctx, "POST", base+"/events/restSearch", "application/json", body)
		if err != nil {
			return err
		}
		var ans struct {
			Response []struct {
				Event struct {
					Timestamp json.RawMessage `json:"timestamp"`
				} `json:"Event"`
			} `json:"response"`
		}
		if err := json.Unmarshal(b, &ans); err != nil {
			return fmt.Errorf("%s/events/restSearch answered %s, not MISP's {\"response\": […]}: %s", base, orNone(resp.Header.Get("Content-Type")), oneLine(b, 80))
		}
		if len(ans.Response) == 0 {
			break
		}
		p.push.file = fmt.Sprintf("restSearch page %d", page)
		if err := p.push.send(ctx, ingest.FormatMISP, b); err != nil {
			return err
		}
		for _, e := range ans.Response {
			if ts, err := strconv.ParseInt(strings.Trim(string(e.Event.Timestamp), `"`), 10, 64); err == nil && ts > newest {
				newest = ts
			}
		}
		if len(ans.Response) < p.cfg.limit {
			break
		}
	}
	// The same timestamp next time: MISP's filter is inclusive and COP counts repeats once.
	st.Positions[key] = pullPosition{Timestamp: newest, Pulled: time.Now().UTC()}
	if err := st.save(p.cfg.state); err != nil {
		return err
	}
	p.push.summary()
	return nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if r != '-' {
				return false
			}
		case !strings.ContainsRune("0123456789abcdefABCDEF", r):
			return false
		}
	}
	return true
}

// ---- state ----

// pullState is the state file: one position per (source, collection).
type pullState struct {
	Positions map[string]pullPosition `json:"positions"`
}

type pullPosition struct {
	AddedAfter time.Time        `json:"added_after,omitzero"` // taxii: X-TAXII-Date-Added-Last of the last push
	Events     map[string]int64 `json:"events,omitempty"`     // misp feed: event uuid → timestamp taken
	Timestamp  int64            `json:"timestamp,omitempty"`  // misp REST: newest event timestamp taken
	Pulled     time.Time        `json:"pulled"`
}

func loadPullState(path string) (*pullState, error) {
	st := &pullState{Positions: map[string]pullPosition{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("--state: cannot read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("--state: %s is not a pull state file (%s): move it away to start afresh", path, oneLine(b, 40))
	}
	if st.Positions == nil {
		st.Positions = map[string]pullPosition{}
	}
	return st, nil
}

// save writes the state through a temporary file and a rename, so a crash leaves the old
// or the new state, never half of one.
func (st *pullState) save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("--state: cannot write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	return nil
}
