package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cidcc/cop/api"
)

// limitFlags registers the flags of every serving command's limits (serve, ingest,
// correlate, api and demo alike) on l, which starts from api.DefaultLimits: the defaults
// live there, not here. On a flag, 0 turns the limit off (a burst: no burst).
func limitFlags(fs *flag.FlagSet, l *api.Limits) {
	*l = api.DefaultLimits()
	f := func(p any, unit float64, name, usage string) {
		off := "0: off"
		if strings.HasSuffix(name, "-burst") {
			off = "0: no burst"
		}
		fs.Var(limitFlag{p: p, unit: unit}, name, usage+" ("+off+"; env "+limitEnv[name]+")")
	}
	f(&l.PushRate, 1, "push-rate", "pushes per second each contributor may make; over it, 429 with Retry-After")
	f(&l.PushBurst, 1, "push-burst", "pushes a contributor may make at once before --push-rate applies")
	f(&l.PushBytesRate, 1<<20, "push-mib-rate", "push body MiB per second each contributor may send; over it, 429 with Retry-After")
	f(&l.PushBytesBurst, 1<<20, "push-mib-burst", "push body MiB a contributor may send at once before --push-mib-rate applies (a push is at most 32 MiB)")
	f(&l.PushConcurrent, 1, "push-concurrent", "pushes of one contributor in flight at once; one more gets 429 with Retry-After")
	f(&l.PushBodyTimeout, 1, "push-body-timeout", "how long a push body may take to arrive; then 408")
	f(&l.BodyTimeout, 1, "body-timeout", "how long any other request body may take to arrive")
	f(&l.WriteTimeout, 1, "write-timeout", "a response (not the websocket) the client stops reading for this long is cut")
	f(&l.IdleTimeout, 1, "idle-timeout", "keep-alive connections idle this long are closed")
	f(&l.WSPerIdentity, 1, "ws-per-identity", "websocket connections one identity may hold; one more gets 429 (not applied with --insecure-dev, where every caller is one identity)")
	f(&l.ViewRate, 1, "view-rate", "view messages per second applied per websocket connection; sooner ones wait and only the latest is applied")
	f(&l.ViewBurst, 1, "view-burst", "view messages a websocket connection may send at once before --view-rate applies")
}

// limitEnv names each limit flag's environment variable.
var limitEnv = map[string]string{
	"push-rate": "COP_PUSH_RATE", "push-burst": "COP_PUSH_BURST",
	"push-mib-rate": "COP_PUSH_MIB_RATE", "push-mib-burst": "COP_PUSH_MIB_BURST",
	"push-concurrent": "COP_PUSH_CONCURRENT", "push-body-timeout": "COP_PUSH_BODY_TIMEOUT",
	"body-timeout": "COP_BODY_TIMEOUT", "write-timeout": "COP_WRITE_TIMEOUT", "idle-timeout": "COP_IDLE_TIMEOUT",
	"ws-per-identity": "COP_WS_PER_IDENTITY", "view-rate": "COP_VIEW_RATE", "view-burst": "COP_VIEW_BURST",
}

// parseFlags sets the limit flags from their environment variables, then parses args
// (flags win).
func parseFlags(fs *flag.FlagSet, args []string) error {
	for name, env := range limitEnv {
		if v := os.Getenv(env); v != "" && fs.Lookup(name) != nil {
			if err := fs.Set(name, v); err != nil {
				return fmt.Errorf("%s=%q: %v", env, v, err)
			}
		}
	}
	return fs.Parse(args)
}

// limitFlag is one field of api.Limits as a flag, in unit (1 MiB for sizes): 0 or less
// on the command line stores -1, which api.Limits reads as off.
type limitFlag struct {
	p    any // *float64, *int, *int64 or *time.Duration
	unit float64
}

func (f limitFlag) String() string {
	var v float64
	switch p := f.p.(type) {
	case nil:
		return ""
	case *float64:
		v = *p
	case *int:
		v = float64(*p)
	case *int64:
		v = float64(*p)
	case *time.Duration:
		if *p < 0 {
			return "0"
		}
		return p.String()
	}
	if v < 0 {
		return "0"
	}
	return strconv.FormatFloat(v/f.unit, 'f', -1, 64)
}

func (f limitFlag) Set(s string) error {
	if p, ok := f.p.(*time.Duration); ok {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("want a duration such as 30s or 2m")
		}
		*p = d
		if d <= 0 {
			*p = -1
		}
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v != v {
		return fmt.Errorf("want a number")
	}
	v *= f.unit
	if v <= 0 {
		v = -1
	}
	switch p := f.p.(type) {
	case *float64:
		*p = v
	case *int:
		if v != float64(int(v)) && v > 0 {
			return fmt.Errorf("want a whole number")
		}
		*p = int(v)
	case *int64:
		*p = int64(v)
	}
	return nil
}
