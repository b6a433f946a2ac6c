package main

import (
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestPprofConfig(t *testing.T) {
	cfg, err := parseServeConfig(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PprofAddr != "" {
		t.Fatalf("default --pprof-addr %q, want off", cfg.PprofAddr)
	}
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--pprof-addr", "127.0.0.1:6060"}, nil, "127.0.0.1:6060"},
		{[]string{"--pprof-addr", "[::1]:6060"}, nil, "[::1]:6060"},
		{[]string{"--pprof-addr", "localhost:0"}, nil, "localhost:0"},
		{nil, map[string]string{envPprofAddr: "127.0.0.2:6061"}, "127.0.0.2:6061"},
		{[]string{"--pprof-addr", "0.0.0.0:6060", "--pprof-allow-remote", "true"}, nil, "0.0.0.0:6060"},
		{[]string{"--pprof-addr", ":6060"}, map[string]string{envPprofAllowRemote: "true"}, ":6060"},
	} {
		for k, v := range c.env {
			t.Setenv(k, v)
		}
		cfg, err := parseServeConfig(c.args, io.Discard)
		if err != nil || cfg.PprofAddr != c.want {
			t.Errorf("%v %v: addr %q, err %v; want %q", c.args, c.env, cfg.PprofAddr, err, c.want)
		}
		for k := range c.env {
			t.Setenv(k, "")
		}
	}

	cases := []serveUsageCase{
		{"every interface", []string{"--pprof-addr", ":6060"}, nil, "loopback"},
		{"unspecified address", []string{"--pprof-addr", "0.0.0.0:6060"}, nil, "loopback"},
		{"public address from env", nil, map[string]string{envPprofAddr: "192.0.2.10:6060"}, envPprofAddr},
		{"host name", []string{"--pprof-addr", "example.com:6060"}, nil, "--pprof-addr"},
		{"no port", []string{"--pprof-addr", "127.0.0.1"}, nil, "--pprof-addr"},
		{"bad port", []string{"--pprof-addr", "127.0.0.1:99999"}, nil, "--pprof-addr"},
		{"allow-remote not a bool", []string{"--pprof-allow-remote", "yes please"}, nil, "--pprof-allow-remote"},
	}
	runServeUsageCases(t, cases)
}

var pprofLine = regexp.MustCompile(`promolift: pprof listening on (http://\S+)/debug/pprof/`)

func pprofGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func TestServePprofOffByDefault(t *testing.T) {
	base, stderr, stop := startServe(t, "--db", filepath.Join(t.TempDir(), "serve.db"))
	if code, _ := pprofGet(t, base+"/debug/pprof/heap"); code == http.StatusOK {
		t.Errorf("GET /debug/pprof/heap on the API port: 200, want no profiles there")
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited with %d", code)
	}
	if strings.Contains(stderr.String(), "pprof") {
		t.Errorf("pprof listener started without --pprof-addr:\n%s", stderr)
	}
}

func TestServePprofOn(t *testing.T) {
	base, stderr, stop := startServe(t, "--db", filepath.Join(t.TempDir(), "serve.db"), "--pprof-addr", "127.0.0.1:0")
	m := pprofLine.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no pprof address on stderr:\n%s", stderr)
	}
	prof := m[1]
	if prof == base {
		t.Fatalf("pprof on the API's address %s", base)
	}
	code, body := pprofGet(t, prof+"/debug/pprof/heap?gc=1")
	if code != http.StatusOK || len(body) < 2 || body[0] != 0x1f || body[1] != 0x8b {
		t.Fatalf("GET /debug/pprof/heap: %d, %d bytes; want 200 and a gzipped profile", code, len(body))
	}
	if code, body := pprofGet(t, prof+"/debug/pprof/goroutine?debug=1"); code != http.StatusOK ||
		!strings.HasPrefix(string(body), "goroutine profile: total ") {
		t.Fatalf("GET /debug/pprof/goroutine?debug=1: %d %.80q", code, body)
	}
	if code, _ := pprofGet(t, base+"/debug/pprof/heap"); code == http.StatusOK {
		t.Errorf("GET /debug/pprof/heap on the API port: 200, want profiles only on --pprof-addr")
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited with %d:\n%s", code, stderr)
	}
	if _, err := http.Get(prof + "/debug/pprof/"); err == nil {
		t.Errorf("pprof listener still up after serve stopped")
	}
}
