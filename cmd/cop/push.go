package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cidcc/cop/ingest"
	"github.com/cidcc/cop/internal/event"
)

// pushChunk is how many native events one HTTP request carries when a file is split.
const pushChunk = 5000

// pushConfig is `cop push`'s flags.
type pushConfig struct{ format, url, token, exercise string }

func pushFlags(c *pushConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	fs.StringVar(&c.format, "format", "", "native, stix or misp (sniffed from each file when empty)")
	fs.StringVar(&c.url, "url", env("COP_URL", "http://127.0.0.1:8080"), "COP's base URL (COP_URL)")
	fs.StringVar(&c.token, "token", os.Getenv("COP_TOKEN"), "your contributor token (COP_TOKEN)")
	fs.StringVar(&c.exercise, "exercise", "", "mark everything as traffic of this exercise")
	return fs
}

func runPush(ctx context.Context, args []string) error {
	var c pushConfig
	fs := pushFlags(&c)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.token == "" {
		return errors.New("no token: set COP_TOKEN or --token")
	}
	f, err := ingest.ParseFormat(c.format)
	if err != nil {
		return err
	}
	files := fs.Args()
	if len(files) == 0 {
		return errors.New("no file: name the feed files to push, or - to read standard input")
	}
	p := &pusher{url: strings.TrimRight(c.url, "/"), token: c.token, exercise: c.exercise, start: time.Now(), out: os.Stderr}
	for _, name := range files {
		p.file = name
		doc, err := readInput(name)
		if err != nil {
			return err
		}
		ff := f
		if ff == "" {
			ff = ingest.Sniff(doc)
		}
		if err := p.pushDoc(ctx, ff, doc); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	p.summary()
	if p.rejected > 0 {
		return fmt.Errorf("%d rejected (reasons above; they are in COP's dead letter too)", p.rejected)
	}
	return nil
}

type pusher struct {
	url, token, exercise string
	file                 string // the file being pushed, named in every line
	accepted, rejected   int
	start, last          time.Time
	out                  io.Writer // reasons and progress
}

// pushDoc sends doc, splitting a large native array into chunks so no request nears the
// server's body limit; STIX bundles and MISP events go whole (their objects refer to each other).
func (p *pusher) pushDoc(ctx context.Context, f ingest.Format, doc []byte) error {
	if f == ingest.FormatNative && len(doc) > 8<<20 {
		var raws []json.RawMessage
		if err := json.Unmarshal(doc, &raws); err == nil {
			for i := 0; i < len(raws); i += pushChunk {
				chunk, _ := json.Marshal(raws[i:min(i+pushChunk, len(raws))])
				if err := p.send(ctx, f, chunk); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return p.send(ctx, f, doc)
}

func (p *pusher) send(ctx context.Context, f ingest.Format, body []byte) error {
	q := "?format=" + string(f)
	if p.exercise != "" {
		q += "&exercise=" + p.exercise
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, "POST", p.url+"/api/v1/feeds"+q, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+p.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("cannot reach COP: %w", err)
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		resp.Body.Close()
		if (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) && attempt < 20 {
			wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(max(wait, 1)) * time.Second):
			}
			continue
		}
		var ans ingest.PushAnswer
		if err := json.Unmarshal(b, &ans); err != nil || resp.StatusCode >= 400 && ans.Accepted+ans.Rejected == 0 {
			return fmt.Errorf("COP answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
		}
		p.accepted += ans.Accepted
		p.rejected += ans.Rejected
		for _, r := range ans.Reasons {
			fmt.Fprintf(p.out, "%s: rejected: %s\n", p.file, r)
		}
		if more := ans.Rejected - len(ans.Reasons); more > 0 {
			fmt.Fprintf(p.out, "%s: rejected: %d more not listed (COP lists the first %d; dead letter %s)\n", p.file, more, len(ans.Reasons), ans.DeadLetter)
		}
		p.progress()
		return nil
	}
}

// progress prints a progress line at most once a second while a long push runs.
func (p *pusher) progress() {
	if p.last.IsZero() {
		p.last = p.start
	}
	if time.Since(p.last) < time.Second {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.out, "%s: %d accepted, %d rejected so far\n", p.file, p.accepted, p.rejected)
}

// summary prints the one line that ends a push.
func (p *pusher) summary() {
	secs := time.Since(p.start).Seconds()
	fmt.Fprintf(p.out, "pushed: %d accepted, %d rejected, %.0f events/s\n", p.accepted, p.rejected, float64(p.accepted+p.rejected)/max(secs, 1e-3))
}

func readInput(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(bufio.NewReader(os.Stdin))
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", name, err)
	}
	return b, nil
}

// validateConfig is `cop validate`'s flags.
type validateConfig struct{ format, contributor string }

func validateFlags(c *validateConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.StringVar(&c.format, "format", "", "native, stix or misp (sniffed when empty)")
	fs.StringVar(&c.contributor, "contributor", "validate", "contributor name to stamp on the events")
	return fs
}

func runValidate(ctx context.Context, args []string) error {
	var c validateConfig
	fs := validateFlags(&c)
	if err := fs.Parse(args); err != nil {
		return err
	}
	format, contributor := &c.format, &c.contributor
	f, err := ingest.ParseFormat(*format)
	if err != nil {
		return err
	}
	files := fs.Args()
	if len(files) == 0 {
		return errors.New("no file: name the feed files to check, or - to read standard input")
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	var accepted, rejected int
	for _, name := range files {
		doc, err := readInput(name)
		if err != nil {
			return err
		}
		ff, evs, errs := ingest.Parse(f, doc, event.Source{Contributor: *contributor, ReceivedAt: time.Now().UTC()})
		for i := range evs {
			evs[i].ID = "" // minted by the server with its id key (internal/keys)
			if err := enc.Encode(&evs[i]); err != nil {
				return err
			}
		}
		for _, e := range errs {
			fmt.Fprintf(os.Stderr, "%s: rejected: %v\n", name, e)
		}
		nrej := len(errs)
		if len(evs) == 0 && len(errs) == 0 {
			// What ingest dead-letters as "document holds no event": say it, and how it was read.
			fmt.Fprintf(os.Stderr, "%s: rejected: the document holds no event when read as %s (--format names the format if that is not it)\n", name, ff)
			nrej = 1
		}
		accepted += len(evs)
		rejected += nrej
		fmt.Fprintf(os.Stderr, "%s (%s): %d events, %d rejected\n", name, ff, len(evs), nrej)
	}
	if rejected > 0 || accepted == 0 {
		out.Flush()
		return fmt.Errorf("%d accepted, %d rejected", accepted, rejected)
	}
	return nil
}
