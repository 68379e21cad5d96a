package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cidcc/cop/internal/itest"
)

// readmeBlock returns the first ```sh block after the README's heading.
func readmeBlock(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README has no %q", heading)
	}
	_, block, ok := strings.Cut(sec, "```sh\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatalf("README's %q has no sh block", heading)
	}
	return block
}

// TestReadmeExerciseStepsAgainstTheDemo runs the README's exercise block, as written,
// against `cop demo` (embedded broker, its own state directory, a free loopback port,
// the tests' database): every step must succeed, and reach the demo: the scenario's
// files pushed with the demo's tokens (fi-ncsc's too), the scenario pushed into the
// demo's broker and real feeds replayed into it show in the demo's exercise picture, which
// the analyst may view and a commander may not. (The steps went to 127.0.0.1:19092 and
// reported success while the demo saw nothing; fi-ncsc had no token.)
func TestReadmeExerciseStepsAgainstTheDemo(t *testing.T) {
	_, chAddr := itest.Services(t)
	bin := buildCop(t)
	dir := t.TempDir()
	// The README's commands say ./cop, run from where the demo keeps .cop.
	if err := os.Symlink(bin, filepath.Join(dir, "cop")); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	env := append(withoutEnv(os.Environ(), "COP_KAFKA", "COP_URL", "COP_TOKEN"),
		"COP_CLICKHOUSE="+chAddr, "COP_CH_DATABASE="+itest.Database())
	demo := exec.CommandContext(ctx, "./cop", "demo", "--listen", listen, "--rate", "100")
	demo.Dir, demo.Env = dir, env
	var console bytes.Buffer
	demo.Stdout, demo.Stderr = &console, &console
	demo.Cancel = func() error { return demo.Process.Signal(syscall.SIGINT) }
	demo.WaitDelay = 20 * time.Second
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			demo.Process.Signal(syscall.SIGINT)
			demo.Wait()
		}
	}
	defer stop()
	itest.Eventually(t, time.Minute, 200*time.Millisecond, func() (bool, string) {
		_, err := os.Stat(filepath.Join(dir, ".cop/demo/env"))
		return err == nil, "the demo wrote no .cop/demo/env; console:\n" + console.String()
	})
	tokens := readDemoTokens(filepath.Join(dir, ".cop/demo/tokens.txt"))
	// Some real traffic stored in ClickHouse, for the replay to find.
	base := int64(-1)
	itest.Eventually(t, time.Minute, 500*time.Millisecond, func() (bool, string) {
		req, _ := http.NewRequest("GET", "http://"+listen+"/api/v1/stats", nil)
		req.Header.Set("Authorization", "Bearer "+tokens["admin"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		var st struct{ Events int64 }
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&st) != nil {
			return false, "stats: " + resp.Status
		}
		if base < 0 {
			base = st.Events
		}
		return st.Events > base+50, fmt.Sprintf("%d events stored since the demo started", st.Events-base)
	})

	script := "set -euo pipefail\n" + readmeBlock(t, "## Exercises")
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir, cmd.Env = dir, env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("the README's exercise block failed: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	t.Logf("stderr of the block:\n%s", errOut.String())
	if !strings.Contains(errOut.String(), "on 127.0.0.1:") || strings.Contains(errOut.String(), "19092") {
		t.Errorf("--push did not say it went to the demo's broker:\n%s", errOut.String())
	}
	if !strings.Contains(out.String(), "SCORE") || strings.Count(strings.TrimSpace(out.String()), "\n") < 1 {
		t.Errorf("the analyst's query of the exercise printed no situation:\n%s", out.String())
	}
	// The demo's own exercise picture: the scenario (fi-ncsc among its reporters) and the
	// replay (contributors only the demo's feeds have) reached it.
	itest.Eventually(t, time.Minute, 500*time.Millisecond, func() (bool, string) {
		names := map[string]bool{}
		for _, s := range livePicture(t, listen, tokens["analyst"], "CYDEF-X") {
			for _, c := range s.Contributors {
				names[c.Name] = true
			}
		}
		return names["fi-ncsc"] && (names["fr-comcyber"] || names["nl-ncsc"] || names["de-cert-bw"]),
			fmt.Sprintf("contributors in the demo's CYDEF-X picture: %v", names)
	})
	req, _ := http.NewRequest("GET", "http://"+listen+"/api/v1/situations?exercise=CYDEF-X", nil)
	req.Header.Set("Authorization", "Bearer "+tokens["cdr-althea"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a demo commander viewing the exercise: %s, want 403", resp.Status)
	}
	stop()
	if _, err := os.Stat(filepath.Join(dir, ".cop/demo/env")); err == nil {
		t.Error("a stopped demo left .cop/demo/env behind")
	}
	c := console.String()
	if strings.Contains(c, `{"level"`) || !strings.Contains(c, ".cop/demo/cop.log") || !strings.Contains(c, "sent ") {
		t.Errorf("the demo's console shows JSON logs, or no status line, or not where the logs are:\n%s", c)
	}
}

type liveSituation struct {
	ID           string `json:"id"`
	Contributors []struct {
		Name string `json:"name"`
	} `json:"contributors"`
}

// livePicture returns the snapshot the websocket gives token's identity.
func livePicture(t *testing.T, addr, token, exercise string) []liveSituation {
	t.Helper()
	q := "access_token=" + token
	if exercise != "" {
		q += "&exercise=" + exercise
	}
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws/picture?"+q, nil)
	if err != nil {
		t.Fatalf("websocket: %v", err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m struct {
		Type       string          `json:"type"`
		Situations []liveSituation `json:"situations"`
	}
	for m.Type != "snapshot" {
		if err := conn.ReadJSON(&m); err != nil {
			t.Fatalf("websocket read: %v", err)
		}
	}
	return m.Situations
}

// withoutEnv drops the named variables from env.
func withoutEnv(env []string, names ...string) []string {
	var out []string
next:
	for _, kv := range env {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}
