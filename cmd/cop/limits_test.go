package main

import (
	"testing"
	"time"

	"github.com/cidcc/cop/api"
)

// The probe: `cop demo` served with no push rate limit (300 pushes in 0.2 s accepted).
func TestEveryServingCommandGetsThePushLimits(t *testing.T) {
	var s serveConfig
	if err := serveFlags(&s).Parse(nil); err != nil {
		t.Fatal(err)
	}
	var d demoConfig
	if err := demoFlags(&d).Parse(nil); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]serveConfig{"serve": s, "demo": d.serveConfig} {
		if c.PushRate <= 0 || c.PushBurst <= 0 {
			t.Errorf("cop %s: push rate %v burst %d, want limited", name, c.PushRate, c.PushBurst)
		}
	}
}

func TestLimitFlagsStartFromTheDefaultsTakeEnvAndZeroTurnsOff(t *testing.T) {
	var c demoConfig
	if err := parseFlags(demoFlags(&c), nil); err != nil {
		t.Fatal(err)
	}
	if c.Limits != api.DefaultLimits() {
		t.Errorf("demo limits %+v, want the defaults %+v", c.Limits, api.DefaultLimits())
	}
	t.Setenv("COP_PUSH_CONCURRENT", "2")
	t.Setenv("COP_PUSH_MIB_RATE", "1.5")
	t.Setenv("COP_IDLE_TIMEOUT", "5s")
	var s serveConfig
	if err := parseFlags(serveFlags(&s), []string{"--push-rate", "0", "--idle-timeout", "7s"}); err != nil {
		t.Fatal(err)
	}
	l := s.Limits.WithDefaults()
	if l.PushConcurrent != 2 || l.PushBytesRate != 1.5*(1<<20) || l.PushRate != 0 || l.IdleTimeout != 7*time.Second {
		t.Errorf("limits %+v: want 2 in flight and 1.5 MiB/s from env, push rate off, idle 7s (the flag wins)", l)
	}
	t.Setenv("COP_VIEW_RATE", "fast")
	if err := parseFlags(serveFlags(&serveConfig{}), nil); err == nil {
		t.Error("COP_VIEW_RATE=fast accepted")
	}
}
