package itest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Python returns the interpreter of the reference clients' virtual environment (the OASIS
// medallion, taxii2-client, stix2, stix2-validator and CIRCL's PyMISP, pinned by
// scripts/pyenv, which `make test` runs): COP_PYTHON, else .cop/venv/bin/python at the
// repository's root. Without it the test is skipped, and fails under COP_REQUIRE_SERVICES=1,
// so CI never passes by skipping the interoperability tests.
func Python(t testing.TB) string {
	t.Helper()
	py := os.Getenv("COP_PYTHON")
	if py == "" {
		if root := repoRoot(); root != "" {
			py = filepath.Join(root, ".cop", "venv", "bin", "python")
		}
	}
	if py != "" {
		if _, err := os.Stat(py); err == nil {
			return py
		}
	}
	msg := fmt.Sprintf("interoperability test: needs the Python reference clients at %q; run scripts/pyenv (make test does)", py)
	if os.Getenv("COP_REQUIRE_SERVICES") == "1" {
		t.Fatal("COP_REQUIRE_SERVICES=1 but " + msg)
	}
	t.Skip(msg)
	return ""
}

// RepoFile returns the path of rel from the repository's root.
func RepoFile(t testing.TB, rel string) string {
	t.Helper()
	root := repoRoot()
	if root == "" {
		t.Fatal("cannot find the repository's root (go.mod) from the working directory")
	}
	return filepath.Join(root, rel)
}

func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// RunPython runs the venv's python with args (a script and its arguments) and returns its
// standard output; it fails the test with standard error when the script fails.
func RunPython(t testing.TB, py string, timeout time.Duration, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(py), strings.Join(args, " "), err, errb.String())
	}
	return out.Bytes()
}

// StartPython starts a long-running python server (medallion, http.server) listening on
// 127.0.0.1:port, waits until the port accepts connections, and stops it when the test
// ends. It fails the test with the server's output if it does not come up in 30 s.
func StartPython(t testing.TB, py string, port int, args ...string) {
	t.Helper()
	cmd := exec.Command(py, args...)
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			sc := bufio.NewScanner(strings.NewReader(logs.String()))
			for sc.Scan() {
				t.Logf("%s: %s", filepath.Base(args[0]), sc.Text())
			}
		}
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("%v exited before listening on %s:\n%s", args, addr, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v: nothing listens on %s after 30 s:\n%s", args, addr, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// FreePort returns a TCP port free on 127.0.0.1 now (for a server that takes a port number).
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// lockedBuffer is a bytes.Buffer a child process writes while the test may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
