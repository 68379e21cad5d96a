package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/cidcc/cop/internal/bus"
)

// soakSample is one row of the soak's CSV.
type soakSample struct {
	Elapsed                time.Duration
	Sent, Ingested, Stored float64
	Lag                    float64
	RSSMiB, HeapMiB        float64
	EngineMiB              float64 // the correlation engine's state
	Situations             float64 // in the live picture
}

// runSoak runs the demo load through `cop serve` on the real services for --duration and
// samples throughput, Kafka lag and memory, so a leak or a growing lag shows as a slope.
func runSoak(ctx context.Context, args []string, h Host) error {
	fs := flag.NewFlagSet("bench soak", flag.ContinueOnError)
	duration := fs.Duration("duration", 10*time.Minute, "how long to run")
	rate := fs.Int("rate", 1000, "synthetic events per second")
	every := fs.Duration("every", 5*time.Second, "sampling interval")
	out := fs.String("out", filepath.Join(".cop", "soak"), "directory for soak.csv and soak.svg")
	dedup := fs.Int("dedup-size", 0, "the engine's dedup windows (cop serve --dedup-size; 0: the default 2M each, which at 1,000 events/s take ~35 min to fill)")
	warmup := fs.Duration("warmup", 0, "what the summary leaves out at the start (default: the first 40%)")
	maxObs := fs.Int("max-observables", 200_000, "the engine's cap (cop serve --max-observables): memory is flat once the synthetic feed's observables exceed it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	kafkaAddr, chAddr, err := services()
	if err != nil {
		return err
	}
	var b [4]byte
	rand.Read(b[:])
	ns := "soak" + hex.EncodeToString(b[:])
	o := ServeOptions{Kafka: kafkaAddr, ClickHouse: chAddr, Database: database(), Partitions: 4,
		Namespace: ns, MaxObservables: *maxObs, DedupSize: *dedup} // no state file: the soak measures a fresh engine and leaves none
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	started := make(chan string, 1)
	serveErr := make(chan error, 1)
	go func() { serveErr <- h.Serve(sctx, o, started) }()
	var addr string
	select {
	case addr = <-started:
	case err := <-serveErr:
		return err
	}
	sent := h.Feed(sctx, bus.Config{Brokers: bus.Brokers(kafkaAddr), Namespace: ns}, *rate)

	start := time.Now()
	var samples []soakSample
	t := time.NewTicker(*every)
	defer t.Stop()
	fmt.Fprintf(os.Stderr, "soak: %s at %d events/s, namespace %s\n", *duration, *rate, ns)
	for time.Since(start) < *duration {
		select {
		case <-ctx.Done():
			return nil
		case err := <-serveErr:
			return fmt.Errorf("serve stopped during the soak: %w", err)
		case <-t.C:
		}
		m := scrapeMetrics("http://" + addr + "/metrics")
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s := soakSample{Elapsed: time.Since(start), Sent: float64(sent()),
			Ingested: m["cop_ingest_messages_total"], Stored: m["cop_correlate_events_total"], Lag: m["cop_correlate_lag"],
			RSSMiB: float64(vmRSS()) / (1 << 20), HeapMiB: float64(ms.HeapInuse) / (1 << 20),
			EngineMiB: m["cop_engine_state_bytes"] / (1 << 20), Situations: m["cop_picture_situations"]}
		samples = append(samples, s)
		fmt.Fprintf(os.Stderr, "%6.0fs sent %.0f ingested %.0f correlated %.0f lag %.0f rss %.0f MiB heap %.0f MiB engine %.0f MiB picture %.0f situations\n",
			s.Elapsed.Seconds(), s.Sent, s.Ingested, s.Stored, s.Lag, s.RSSMiB, s.HeapMiB, s.EngineMiB, s.Situations)
	}
	cancel()
	<-serveErr
	if len(samples) < 2 {
		return errors.New("too few samples: use a longer --duration")
	}
	if err := writeSoak(*out, samples); err != nil {
		return err
	}
	first, last := samples[len(samples)*2/5], samples[len(samples)-1]
	if *warmup > 0 {
		for _, s := range samples {
			if first = s; s.Elapsed >= *warmup {
				break
			}
		}
	}
	secs := (last.Elapsed - first.Elapsed).Seconds()
	fmt.Printf("soak %s at %d events/s (namespace %s)\n", *duration, *rate, ns)
	fmt.Printf("  correlated:  %.0f events/s sustained after warm-up\n", (last.Stored-first.Stored)/secs)
	fmt.Printf("  lag:         %.0f at the end, %.0f at most\n", last.Lag, maxOf(samples, func(s soakSample) float64 { return s.Lag }))
	fmt.Printf("  RSS:         %.0f MiB after warm-up, %.0f MiB at the end (%+.1f%%)\n", first.RSSMiB, last.RSSMiB, 100*(last.RSSMiB-first.RSSMiB)/first.RSSMiB)
	fmt.Printf("  heap in use: %.0f MiB after warm-up, %.0f MiB at the end\n", first.HeapMiB, last.HeapMiB)
	fmt.Printf("  engine:      %.0f MiB after warm-up, %.0f MiB at the end (cap %d observables)\n", first.EngineMiB, last.EngineMiB, *maxObs)
	fmt.Printf("  picture:     %.0f situations after warm-up, %.0f at the end\n", first.Situations, last.Situations)
	fmt.Printf("  written:     %s, %s\n", filepath.Join(*out, "soak.csv"), filepath.Join(*out, "soak.svg"))
	return nil
}

func scrapeMetrics(url string) map[string]float64 {
	out := map[string]float64{}
	resp, err := http.Get(url)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 4<<20))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if f, err := strconv.ParseFloat(val, 64); err == nil {
			out[name] = f
		}
	}
	return out
}

func maxOf(xs []soakSample, f func(soakSample) float64) float64 {
	m := 0.0
	for _, x := range xs {
		m = max(m, f(x))
	}
	return m
}

// writeSoak writes the samples as CSV and an SVG plot of RSS and lag over time.
func writeSoak(dir string, samples []soakSample) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w", dir, err)
	}
	var csv strings.Builder
	csv.WriteString("elapsed_s,sent,ingested,correlated,lag,rss_mib,heap_mib,engine_mib,picture_situations\n")
	for _, s := range samples {
		fmt.Fprintf(&csv, "%.1f,%.0f,%.0f,%.0f,%.0f,%.1f,%.1f,%.1f,%.0f\n", s.Elapsed.Seconds(), s.Sent, s.Ingested, s.Stored, s.Lag,
			s.RSSMiB, s.HeapMiB, s.EngineMiB, s.Situations)
	}
	if err := os.WriteFile(filepath.Join(dir, "soak.csv"), []byte(csv.String()), 0o644); err != nil {
		return fmt.Errorf("cannot write soak.csv: %w", err)
	}
	const w, h, pad = 900.0, 360.0, 50.0
	tmax := samples[len(samples)-1].Elapsed.Seconds()
	line := func(f func(soakSample) float64, colour string) string {
		top := max(maxOf(samples, f)*1.1, 1)
		var pts strings.Builder
		for _, s := range samples {
			x := pad + (w-2*pad)*s.Elapsed.Seconds()/tmax
			y := h - pad - (h-2*pad)*f(s)/top
			fmt.Fprintf(&pts, "%.1f,%.1f ", x, y)
		}
		return fmt.Sprintf(`<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, colour, pts.String()) +
			fmt.Sprintf(`<text x="%.0f" y="%.0f" fill="%s" font-size="12">max %.0f</text>`, w-pad-80, pad-8+float64(len(colour)%2)*14, colour, top/1.1)
	}
	svg := fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif">
<rect width="100%%" height="100%%" fill="white"/>
<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/><line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>
<text x="%.0f" y="%.0f" font-size="12">time (s), 0 – %.0f</text>
<text x="%.0f" y="20" font-size="14">COP soak: RSS MiB (blue), heap MiB (green), Kafka lag (red), each scaled to its max</text>
%s%s%s</svg>
`, w, h, pad, h-pad, w-pad, h-pad, pad, pad, pad, h-pad, w/2-60, h-15, tmax, pad,
		line(func(s soakSample) float64 { return s.RSSMiB }, "blue"),
		line(func(s soakSample) float64 { return s.HeapMiB }, "green"),
		line(func(s soakSample) float64 { return s.Lag }, "red"))
	return os.WriteFile(filepath.Join(dir, "soak.svg"), []byte(svg), 0o644)
}
