package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// queryConfig is `cop query`: the REST history API's filters as flags.
type queryConfig struct {
	URL, Token, Format string
	Situations, All    bool
	Params             map[string]*string
}

// queryParams are the flags that become query parameters of /api/v1/events (or
// /api/v1/situations with --situations), by the same name.
var queryParams = []struct{ name, help string }{
	{"since", "observed at or after: RFC 3339, a date (2026-12-01) or an age (24h, 7d)"},
	{"until", "observed before: RFC 3339, a date or an age"},
	{"contributor", "contributors, comma-separated"},
	{"country", "ISO 3166-1 alpha-2 codes, comma-separated"},
	{"sector", "NIS2 sectors, comma-separated"},
	{"kind", "indicator, sighting, incident, report"},
	{"severity", "info, low, medium, high, critical"},
	{"technique", "MITRE ATT&CK ids, comma-separated"},
	{"observable", "an observable value (defanged is fine)"},
	{"observable_type", "ipv4, ipv6, cidr, domain, url, email, sha256, sha1, md5, cve, asn"},
	{"tlp", "TLP markings, comma-separated"},
	{"exercise", "exercise picture (default: the real one)"},
	{"q", "text in the title"},
	{"name", "a stated campaign, intrusion set, threat actor, malware or tool name (exact, any case)"},
	{"min_score", "minimum score (situations)"},
	{"sort", "events: -observed_at (default, newest first) or observed_at; situations: -score (default, best first), score, -updated_at or updated_at"},
	{"limit", "rows per page (1-1000)"},
	{"cursor", "the page after the one that printed this cursor (its \"# more\" line)"},
}

func queryFlags(c *queryConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	fs.StringVar(&c.URL, "url", env("COP_URL", "http://127.0.0.1:8080"), "COP API base URL (COP_URL)")
	fs.StringVar(&c.Token, "token", env("COP_TOKEN", ""), "bearer token (COP_TOKEN)")
	fs.StringVar(&c.Format, "format", "table", "table, csv or json")
	fs.BoolVar(&c.Situations, "situations", false, "query situations instead of events")
	fs.BoolVar(&c.All, "all", false, "follow the cursor through every page")
	c.Params = map[string]*string{}
	for _, p := range queryParams {
		c.Params[p.name] = fs.String(strings.ReplaceAll(p.name, "_", "-"), "", p.help)
	}
	return fs
}

func runQuery(ctx context.Context, args []string) error {
	var c queryConfig
	fs := queryFlags(&c)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: filters are flags (--country EE, --cursor …); cop help query lists them", fs.Arg(0))
	}
	return query(ctx, c, os.Stdout)
}

func query(ctx context.Context, c queryConfig, out io.Writer) error {
	if c.Token == "" {
		return errors.New("no token: set COP_TOKEN or --token")
	}
	path := "/api/v1/events"
	if c.Situations {
		path = "/api/v1/situations"
	}
	q := url.Values{}
	for name, v := range c.Params {
		if *v != "" {
			q.Set(name, *v)
		}
	}
	if c.Situations && q.Get("sort") == "" {
		q.Set("sort", "-score") // what a user looks at first; the API's default is -updated_at
	}
	switch c.Format {
	case "csv":
		if c.Situations {
			return querySituationsCSV(ctx, c, path, q, out)
		}
		q.Set("format", "csv")
		body, err := get(ctx, c, path, q)
		if err != nil {
			return err
		}
		defer body.Close()
		_, err = io.Copy(out, body)
		return err
	case "table", "json":
	default:
		return fmt.Errorf("--format: %q: want table, csv or json", c.Format)
	}
	tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
	if c.Format == "table" {
		if c.Situations {
			fmt.Fprintln(tw, "UPDATED\tID\tSCORE\tSEVERITY\tTLP\tEVENTS\tCOUNTRIES\tNAMES\tTITLE")
		} else {
			fmt.Fprintln(tw, "OBSERVED\tCONTRIBUTOR\tKIND\tSEVERITY\tTLP\tCOUNTRIES\tSECTORS\tOBSERVABLES\tNAMES\tTITLE")
		}
	}
	enc := json.NewEncoder(out)
	for {
		body, err := get(ctx, c, path, q)
		if err != nil {
			return err
		}
		var page struct {
			Events     []json.RawMessage `json:"events"`
			Situations []json.RawMessage `json:"situations"`
			Next       string            `json:"next"`
		}
		err = json.NewDecoder(body).Decode(&page)
		body.Close()
		if err != nil {
			return fmt.Errorf("cannot decode the answer: %w", err)
		}
		for _, raw := range append(page.Events, page.Situations...) {
			if c.Format == "json" {
				enc.Encode(raw)
				continue
			}
			var r struct {
				ObservedAt                                  time.Time `json:"observed_at"`
				UpdatedAt                                   time.Time `json:"updated_at"`
				ID, Contributor, Kind, Severity, TLP, Title string
				Score                                       float64
				EventCount                                  int `json:"event_count"`
				Countries, Sectors                          []string
				Observables                                 []struct{ Type, Value string }
				Names                                       []struct{ Kind, Name string }
			}
			json.Unmarshal(raw, &r)
			var obs, names []string
			for _, o := range r.Observables {
				obs = append(obs, o.Type+":"+o.Value)
			}
			for _, n := range r.Names {
				names = append(names, n.Kind+":"+n.Name)
			}
			if c.Situations {
				fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%d\t%s\t%s\t%s\n", r.UpdatedAt.Format(time.RFC3339), r.ID, r.Score,
					r.Severity, r.TLP, r.EventCount, strings.Join(r.Countries, ","), strings.Join(names, ","), r.Title)
			} else {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ObservedAt.Format(time.RFC3339), r.Contributor, r.Kind,
					r.Severity, r.TLP, strings.Join(r.Countries, ","), strings.Join(r.Sectors, ","), strings.Join(obs, " "), strings.Join(names, ","), r.Title)
			}
		}
		if !c.All || page.Next == "" {
			if page.Next != "" && c.Format == "table" {
				fmt.Fprintf(tw, "# more: --all, or --cursor %s\n", page.Next)
			}
			return tw.Flush()
		}
		q.Set("cursor", page.Next)
	}
}

// get calls the API and returns the body of a 200, or the API's error message.
func get(ctx context.Context, c queryConfig, path string, q url.Values) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(c.URL, "/")+path+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach COP at %s: %w", c.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var e struct{ Error, Code string }
		json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&e)
		return nil, fmt.Errorf("%s: %s (%s)", resp.Status, e.Error, e.Code)
	}
	return resp.Body, nil
}

// querySituationsCSV writes the situations' pages as CSV, in the API's order (by score
// unless --sort says otherwise); the API exports events only, so the rows are built here.
func querySituationsCSV(ctx context.Context, c queryConfig, path string, q url.Values, out io.Writer) error {
	w := csv.NewWriter(out)
	w.Write([]string{"score", "id", "severity", "tlp", "event_count", "countries", "sectors", "first_seen", "last_seen", "updated_at", "title"})
	for {
		body, err := get(ctx, c, path, q)
		if err != nil {
			return err
		}
		var page struct {
			Situations []struct {
				ID, Severity, TLP, Title string
				Score                    float64
				EventCount               int `json:"event_count"`
				Countries, Sectors       []string
				First                    string `json:"first_seen"`
				Last                     string `json:"last_seen"`
				Updated                  string `json:"updated_at"`
			} `json:"situations"`
			Next string `json:"next"`
		}
		err = json.NewDecoder(body).Decode(&page)
		body.Close()
		if err != nil {
			return fmt.Errorf("cannot decode the answer: %w", err)
		}
		for _, s := range page.Situations {
			w.Write([]string{strconv.FormatFloat(s.Score, 'f', 1, 64), s.ID, s.Severity, s.TLP, strconv.Itoa(s.EventCount),
				strings.Join(s.Countries, ";"), strings.Join(s.Sectors, ";"), s.First, s.Last, s.Updated, s.Title})
		}
		if !c.All || page.Next == "" {
			if page.Next != "" {
				fmt.Fprintf(os.Stderr, "# more: --all, or --cursor %s\n", page.Next)
			}
			w.Flush()
			return w.Error()
		}
		q.Set("cursor", page.Next)
	}
}
