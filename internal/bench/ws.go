package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/cidcc/cop/api"
	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/keys"
	"github.com/cidcc/cop/internal/metrics"
	"github.com/cidcc/cop/internal/picture"
)

// wsBenchConfig is one run of `cop bench ws`.
type wsBenchConfig struct {
	Clients  int
	Rate     int           // situation updates per second that each view (so each client) sees
	Duration time.Duration // how long the picture is driven after every client has its snapshot
	Views    int           // distinct views; clients are spread over them round-robin
	Every    time.Duration // the hub's broadcast interval (cop serve --flush-every, default 250 ms)
	Pool     int           // situations per view, updated in turn
	Dialers  int           // clients connecting at once
	// Split runs the clients in a child process; chosen when this one may not open two
	// file descriptors per client.
	Split bool

	CPUProfile, MemProfile string
	Progress               io.Writer // nil: quiet
}

// wsBenchResult is what one run measured.
type wsBenchResult struct {
	Clients, Views    int
	Seconds           float64 // drive phase, wall clock
	Messages          uint64  // websocket delta messages received by all clients
	Situations        uint64  // situation updates received by all clients
	Removals          uint64  // removal notices received by all clients
	E2E, Fanout       LatencySummary
	Drops             uint64 // clients the hub dropped for falling behind
	Lost              int    // clients whose connection ended before the run did, for any reason
	NoDelta           int    // clients that received no delta
	HeapPerConn       float64
	StackPerConn      float64
	RSSPerConn        float64
	ServerHeapPerConn float64 // heap in use allocated on the server side of the connection
	ServerGoroutines  float64 // goroutines per connection started by the server
	CPUConnect        float64 // CPU seconds while connecting
	CPUDrive          float64 // CPU seconds while driving
	ClientCPU         float64 // CPU seconds of the client process, with Split
}

// LatencySummary is the median, 99th percentile and maximum of a LatencyHist.
type LatencySummary struct{ P50, P99, Max time.Duration }

// benchView is one of the views the clients take: by query parameter on connect, or by a
// view message after the first snapshot (min_score cannot be given on the URL).
type benchView struct {
	query url.Values
	msg   []byte // nil: no view message
	// What the view's own situations look like.
	exercise, country string
}

// benchViews returns n views, each seeing exactly its own group of situations: real-picture
// views by mission (a country no other mission covers), optionally with a minimum score;
// exercise views whole or with a minimum score. Real-picture views do receive removal
// notices for the other real-picture groups: the hub tells a view about every changed
// situation of its exercise that it cannot see.
func benchViews(n int) []benchView {
	ms := access.DefaultMissions()
	var missions []string
	countries := map[string]int{}
	for _, m := range ms {
		for _, c := range m.Countries {
			countries[c]++
		}
	}
	names := make([]string, 0, len(ms))
	for name := range ms {
		names = append(names, name)
	}
	slices.Sort(names)
	own := map[string]string{}
	for _, name := range names {
		for _, c := range ms[name].Countries {
			if countries[c] == 1 {
				own[name] = c
				missions = append(missions, name)
				break
			}
		}
	}
	views := make([]benchView, 0, n)
	nextMission := 0
	for i := range n {
		kind := i % 4
		if kind < 2 && nextMission == len(missions) {
			kind += 2 // no mission left with a country of its own
		}
		var v benchView
		switch kind {
		case 0:
			m := missions[nextMission]
			nextMission++
			v = benchView{query: url.Values{"mission": {m}}, country: own[m]}
		case 1:
			m := missions[nextMission]
			nextMission++
			v = benchView{query: url.Values{"mission": {m}}, country: own[m],
				msg: fmt.Appendf(nil, `{"type":"view","mission":%q,"min_score":50}`, m)}
		case 2:
			ex := fmt.Sprintf("BENCH-EX%02d", i)
			v = benchView{query: url.Values{"exercise": {ex}}, exercise: ex, country: "FR"}
		case 3:
			ex := fmt.Sprintf("BENCH-EX%02d", i)
			v = benchView{query: url.Values{"exercise": {ex}}, exercise: ex, country: "FR",
				msg: fmt.Appendf(nil, `{"type":"view","exercise":%q,"min_score":50}`, ex)}
		}
		views = append(views, v)
	}
	return views
}

func benchSituation(view, i int, v benchView) picture.Situation {
	now := time.Now()
	return picture.Situation{
		ID: fmt.Sprintf("bench-v%02d-s%03d", view, i), Version: 1, Exercise: v.exercise,
		Title: fmt.Sprintf("Synthetic intrusion set %d against %s", i, v.country),
		Kind:  event.KindIndicator, Category: "intrusion", Severity: event.SeverityHigh,
		Confidence: 80, Score: float64(60 + i%40),
		Explanation: picture.Explanation{Severity: 0.75, Confidence: 0.8, Corroborations: 2, Criticality: 1, Decay: 1,
			Text: "high severity × 80% confidence from 2 contributors × criticality 1.0 × decay 1.0"},
		Contributors: []picture.Contributor{{Name: "cert-a"}, {Name: "cert-b", Anonymise: true}},
		Countries:    []string{v.country}, Sectors: []string{"energy"}, Techniques: []string{"T1566", "T1071"},
		TLP: event.TLPGreen,
		Observables: []event.Observable{{Type: 1, Value: fmt.Sprintf("198.51.100.%d", i%250)},
			{Type: 1, Value: fmt.Sprintf("203.0.113.%d", i%250)}},
		EventCount: 3, EventIDs: []string{fmt.Sprintf("ev-%d-1", i), fmt.Sprintf("ev-%d-2", i), fmt.Sprintf("ev-%d-3", i)},
		FirstSeen: now, LastSeen: now, UpdatedAt: now,
	}
}

func runWS(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench ws", flag.ContinueOnError)
	cfg := wsBenchConfig{Progress: os.Stderr}
	fs.IntVar(&cfg.Clients, "clients", 10_000, "websocket clients")
	fs.IntVar(&cfg.Rate, "rate", 10, "situation updates per second each client's view sees")
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, "how long to drive the picture")
	fs.IntVar(&cfg.Views, "views", 8, "distinct views the clients take")
	fs.DurationVar(&cfg.Every, "every", 250*time.Millisecond, "hub broadcast interval (cop serve --flush-every, default 250ms)")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the drive phase to this file")
	fs.StringVar(&cfg.MemProfile, "memprofile", "", "write a heap profile after connecting to this file")
	fs.BoolVar(&cfg.Split, "split", false, "run the clients in a child process (chosen anyway when the file-descriptor limit is too low)")
	clientsFor := fs.String("clients-for", "", "internal: run only the clients, against this address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.Clients <= 0 || cfg.Rate <= 0 || cfg.Views <= 0 || cfg.Duration <= 0 || cfg.Every <= 0 {
		return errors.New("--clients, --rate, --views, --duration and --every must be positive")
	}
	if *clientsFor != "" {
		return runBenchClients(ctx, *clientsFor, cfg)
	}
	if err := RaiseFileLimit(2*cfg.Clients + 64); err != nil {
		fmt.Fprintf(os.Stderr, "bench ws: %v; the clients run in a child process\n", err)
		cfg.Split = true
		if err := RaiseFileLimit(cfg.Clients + 64); err != nil {
			return err
		}
	}
	r, err := benchWS(ctx, cfg)
	if err != nil {
		return err
	}
	printWSBench(os.Stdout, cfg, r)
	return nil
}

func printWSBench(w io.Writer, cfg wsBenchConfig, r wsBenchResult) {
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) }
	fmt.Fprintf(w, "cop bench ws: %d clients, %d views, %d situation updates/s per view, hub broadcast every %v, %.1f s driven.\n",
		r.Clients, r.Views, cfg.Rate, cfg.Every, r.Seconds)
	if cfg.Split {
		fmt.Fprintf(w, "Clients run in a child process on the same %d CPUs over loopback (one process may not open 2 descriptors per client here):\n"+
			"memory is the server process's alone; CPU is the server process's, the client process used %.1f s.\n", runtime.NumCPU(), r.ClientCPU)
	} else {
		fmt.Fprintf(w, "Clients run in the same process on the same %d CPUs over loopback: latency, CPU and memory include both ends.\n", runtime.NumCPU())
	}
	fmt.Fprintln(w, "e2e latency = client receive − situation UpdatedAt: includes the wait for the client's next flush (up to one interval of coalescing);")
	fmt.Fprintln(w, "fan-out latency = client receive − the hub building the message (its \"at\"): the cost of fanning a flush out, coalescing excluded.")
	fmt.Fprintf(w, "%8s %6s %11s %10s %10s %22s %22s %6s %5s %11s %11s %11s %14s %9s\n",
		"clients", "views", "messages/s", "deltas/s/c", "removals/s/c", "e2e p50/p99/max ms", "fan-out p50/p99/max ms",
		"drops", "lost", "heap+stk/c", "RSS/c", "server/c", "CPU s (conn)", "CPU/wall")
	sec := r.Seconds
	n := float64(r.Clients)
	fmt.Fprintf(w, "%8d %6d %11.0f %10.2f %10.2f %22s %22s %6d %5d %11s %11s %11s %14s %9.2f\n",
		r.Clients, r.Views, float64(r.Messages)/sec, float64(r.Situations)/sec/n, float64(r.Removals)/sec/n,
		ms(r.E2E.P50)+"/"+ms(r.E2E.P99)+"/"+ms(r.E2E.Max), ms(r.Fanout.P50)+"/"+ms(r.Fanout.P99)+"/"+ms(r.Fanout.Max),
		r.Drops, r.Lost, kb(r.HeapPerConn+r.StackPerConn), kb(r.RSSPerConn), kb(r.ServerHeapPerConn),
		fmt.Sprintf("%.1f (%.1f)", r.CPUDrive, r.CPUConnect), r.CPUDrive/sec)
	fmt.Fprintf(w, "heap+stk/c: heap in use %s + goroutine stacks %s per connection; server/c: heap allocated by the server side (sampled profile) + %.1f server goroutines' stacks.\n",
		kb(r.HeapPerConn), kb(r.StackPerConn), r.ServerGoroutines)
	if r.NoDelta > 0 {
		fmt.Fprintf(w, "%d client(s) received no delta.\n", r.NoDelta)
	}
}

func kb(b float64) string { return strconv.FormatFloat(b/1024, 'f', 1, 64) + " KB" }

// RaiseFileLimit lifts RLIMIT_NOFILE to at least need when it can (root may raise the hard
// limit too), and says how far it got when it cannot.
func RaiseFileLimit(need int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("cannot read the file-descriptor limit: %w", err)
	}
	if lim.Cur >= uint64(need) {
		return nil
	}
	want := max(lim.Max, uint64(need))
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: want}); err == nil {
		return nil
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("cannot raise the file-descriptor limit: %w", err)
	}
	if lim.Cur < uint64(need) {
		return fmt.Errorf("the file-descriptor limit is %d, below the %d needed", lim.Cur, need)
	}
	return nil
}

// benchClient is one websocket client; its counters are written by its own goroutine only
// and read after it ended.
type benchClient struct {
	conn      *websocket.Conn
	view      int
	snapshots int
	messages  uint64
	sits      uint64
	removals  uint64
	err       error // why the connection ended
}

// benchWS runs the hub with cfg.Clients loopback clients and measures what they receive.
func benchWS(ctx context.Context, cfg wsBenchConfig) (wsBenchResult, error) {
	if cfg.Pool == 0 {
		cfg.Pool = 32
	}
	progress := func(format string, a ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, format+"\n", a...)
		}
	}
	res := wsBenchResult{Clients: cfg.Clients, Views: cfg.Views}
	views := benchViews(cfg.Views)

	// The picture starts with every view's situations so snapshots are realistic.
	pic := api.NewPicture(api.PictureConfig{})
	sits := make([]picture.Situation, 0, cfg.Views*cfg.Pool)
	for v := range views {
		for i := range cfg.Pool {
			sits = append(sits, benchSituation(v, i, views[v]))
		}
	}
	init := make([]picture.Delta, len(sits))
	for i := range sits {
		init[i] = picture.Delta{Situation: sits[i]}
	}
	pic.Apply(init)

	reg := &metrics.Registry{}
	log := zerolog.New(os.Stderr).Level(zerolog.ErrorLevel)
	missions := access.DefaultMissions()
	// The bench's viewers are admins, who see every name: a zero key will do.
	anon := access.Anonymiser{Keys: keys.Fixed(keys.Set{IDs: keys.Key{Secret: make([]byte, keys.Size)}, Pseudonyms: keys.Key{Secret: make([]byte, keys.Size)}})}
	hub := api.NewHub(pic, missions, log, reg, cfg.Every)
	hub.Anon = anon
	hub.SetLimits(api.Limits{WSPerIdentity: -1}) // every client is the insecure dev identity
	srv := &api.Server{Insecure: true, Picture: pic, Hub: hub, Missions: missions, Anon: anon, Metrics: reg, Log: log}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, fmt.Errorf("cannot listen on loopback: %w", err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
	go hs.Serve(ln)
	defer hs.Close()
	stop := make(chan struct{})
	hubDone := make(chan struct{})
	go func() { hub.Run(stop); close(hubDone) }()
	stopHub := sync.OnceFunc(func() { close(stop); <-hubDone })
	defer stopHub()

	// Baseline memory, then connect.
	prevRate := runtime.MemProfileRate
	runtime.MemProfileRate = 4096
	defer func() { runtime.MemProfileRate = prevRate }()
	before := memNow()
	cpu0 := cpuSeconds()
	var fleet clientFleet
	if cfg.Split {
		fleet, err = startChildClients(ctx, ln.Addr().String(), cfg)
	} else {
		fleet, err = dialBenchClients(ctx, ln.Addr().String(), cfg, progress)
	}
	if err != nil {
		return res, err
	}
	res.CPUConnect = cpuSeconds() - cpu0
	after := memNow()
	res.HeapPerConn = float64(int64(after.heap)-int64(before.heap)) / float64(cfg.Clients)
	res.StackPerConn = float64(int64(after.stack)-int64(before.stack)) / float64(cfg.Clients)
	res.RSSPerConn = float64(after.rss-before.rss) / float64(cfg.Clients)
	serverHeap, serverG := serverSideMemory(after.goroutines - before.goroutines)
	res.ServerHeapPerConn = (serverHeap + serverG*float64(after.stack-before.stack)/float64(after.goroutines-before.goroutines)) / float64(cfg.Clients)
	res.ServerGoroutines = serverG / float64(cfg.Clients)
	if cfg.MemProfile != "" {
		if err := writeHeapProfile(cfg.MemProfile); err != nil {
			return res, err
		}
	}
	runtime.MemProfileRate = prevRate

	progress("bench ws: driving %d updates/s for %v", cfg.Rate*cfg.Views, cfg.Duration)
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return res, fmt.Errorf("cannot create CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return res, fmt.Errorf("cannot start CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	res.Seconds, res.CPUDrive = driveWS(ctx, cfg, pic, sits)
	res.Drops = reg.Counter("cop_ws_dropped_total", "").Load()
	stopHub()
	cs, err := fleet.finish()
	if err != nil {
		return res, err
	}
	res.Messages, res.Situations, res.Removals = cs.Messages, cs.Situations, cs.Removals
	res.E2E, res.Fanout, res.Lost, res.NoDelta, res.ClientCPU = cs.E2E, cs.Fanout, cs.Lost, cs.NoDelta, cs.CPU
	return res, nil
}

// driveWS gives every view's group cfg.Rate updates a second, spread evenly, for
// cfg.Duration, and returns the seconds driven and the CPU seconds they took.
func driveWS(ctx context.Context, cfg wsBenchConfig, pic *api.Picture, sits []picture.Situation) (secs, cpu float64) {
	cpu1 := cpuSeconds()
	start := time.Now()
	total := float64(cfg.Rate * cfg.Views)
	done := 0
	batch := make([]picture.Delta, 0, 256)
	tick := time.NewTicker(5 * time.Millisecond)
	for now := range tick.C {
		el := now.Sub(start)
		if el >= cfg.Duration || ctx.Err() != nil {
			break
		}
		due := int(el.Seconds() * total)
		batch = batch[:0]
		for ; done < due; done++ {
			// Consecutive updates go to different views, so that every view sees its rate
			// evenly rather than in bursts (sits is view-major).
			s := &sits[(done%cfg.Views)*cfg.Pool+(done/cfg.Views)%cfg.Pool]
			s.Version++
			s.UpdatedAt = time.Now()
			s.LastSeen = s.UpdatedAt
			batch = append(batch, picture.Delta{Situation: *s})
		}
		pic.Apply(batch)
	}
	tick.Stop()
	// Let the last broadcast arrive before stopping.
	time.Sleep(cfg.Every + 100*time.Millisecond)
	return time.Since(start).Seconds(), cpuSeconds() - cpu1
}
