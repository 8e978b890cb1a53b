package main

import (
	"bufio"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds enmasse with the release ldflags into a temp dir.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "enmasse")
	const pkg = "github.com/enmasse-go/enmasse/internal/version"
	cmd := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X "+pkg+".version=9.9.9-test -X "+pkg+".commit=deadbeef", ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestMainBinary(t *testing.T) {
	bin := buildBinary(t)

	t.Run("version", func(t *testing.T) {
		out, err := exec.Command(bin, "version").Output()
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(`^enmasse 9\.9\.9-test \(commit deadbeef, go\S+ \S+/\S+\)\n$`)
		if !re.Match(out) {
			t.Fatalf("version output %q does not match %v", out, re)
		}
	})

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run("serve "+sig.String(), func(t *testing.T) {
			testServeSignal(t, bin, sig)
		})
	}
}

// testServeSignal starts `enmasse serve` on a random port, checks /healthz,
// sends sig and expects a clean exit 0.
func testServeSignal(t *testing.T, bin string, sig syscall.Signal) {
	cmd := exec.Command(bin, "serve", "--amqp", "", "--http", "127.0.0.1:0", "--mqtt", "", "--data-dir", t.TempDir())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	logs := make(chan string, 100)
	go func() {
		defer close(logs)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs <- sc.Text()
		}
	}()
	addrRe := regexp.MustCompile(`msg=listening proto=http addr=(\S+)`)
	var addr string
	var seen []string
	timeout := time.After(10 * time.Second)
	for addr == "" {
		select {
		case line, ok := <-logs:
			if !ok {
				t.Fatalf("serve exited before listening:\n%s", strings.Join(seen, "\n"))
			}
			seen = append(seen, line)
			if m := addrRe.FindStringSubmatch(line); m != nil {
				addr = m[1]
			}
		case <-timeout:
			t.Fatalf("no listening line within 10s:\n%s", strings.Join(seen, "\n"))
		}
	}

	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Fatalf("/healthz = %d %q", resp.StatusCode, body)
	}

	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	// Serve must stop well within its 10 s shutdown deadline; past 15 s it hangs.
	hang := time.AfterFunc(15*time.Second, func() { _ = cmd.Process.Kill() })
	defer hang.Stop()
	for line := range logs { // drain until the process closes stderr
		seen = append(seen, line)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve after %v: %v\n%s", sig, err, strings.Join(seen, "\n"))
	}
	if all := strings.Join(seen, "\n"); !strings.Contains(all, "msg=stopped") {
		t.Fatalf("no stopped line:\n%s", all)
	}
}
