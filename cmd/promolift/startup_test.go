package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runServeOnce runs serve to its exit and returns the exit code and
// stderr. A serve that starts anyway is stopped after a few seconds (and
// then exits 0, which the callers reject).
func runServeOnce(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var stderr lockedBuffer
	code := run(ctx, append([]string{"serve"}, args...), strings.NewReader(""), io.Discard, &stderr)
	return code, stderr.String()
}

// assertNoDatabase fails when serve left the SQLite file (or its WAL) at path.
func assertNoDatabase(t *testing.T, path string) {
	t.Helper()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if _, err := os.Stat(p); err == nil {
			t.Fatalf("%s was created although serve never listened", filepath.Base(p))
		}
	}
}

// TestServeWritesNothingBeforeListening: a serve that cannot listen, or
// whose PROMOLIFT_ADMIN_KEY is malformed, leaves no database, migration or
// generated key behind, and names the variable once.
func TestServeWritesNothingBeforeListening(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cases := []struct {
		name     string
		addr     string
		adminKey string
		wantCode int
		want     string
	}{
		{"busy port", busy.Addr().String(), "", 1, "listen on " + busy.Addr().String()},
		{"busy port with an admin key", busy.Addr().String(), "pl_admin0000_quickstart-secret-key", 1, "listen on"},
		{"short admin key", "127.0.0.1:0", "short", 2, envAdminKey + ": must be at least 16 characters"},
		{"malformed admin key", "127.0.0.1:0", "not-a-key-but-long-enough", 2, envAdminKey + ": must look like pl_"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(envAdminKey, c.adminKey)
			db := filepath.Join(t.TempDir(), "never.db")
			code, out := runServeOnce(t, "--addr", c.addr, "--db", db)
			if code != c.wantCode || !strings.Contains(out, c.want) {
				t.Fatalf("code %d, stderr:\n%s\nwant %d and %q", code, out, c.wantCode, c.want)
			}
			if n := strings.Count(out, envAdminKey); c.adminKey != "" && c.wantCode == 2 && n != 1 {
				t.Fatalf("%s named %d times:\n%s", envAdminKey, n, out)
			}
			if strings.Contains(out, "shown once") {
				t.Fatalf("a key was generated:\n%s", out)
			}
			assertNoDatabase(t, db)
		})
	}
}

// TestServeRejectsAdminKeyNotStored: once the database has keys, a
// PROMOLIFT_ADMIN_KEY that is not one of its active admin keys stops serve
// with a message saying so, instead of being ignored (every call with it
// would get 401); the stored key in the variable starts normally.
func TestServeRejectsAdminKeyNotStored(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keys.db")
	t.Setenv(envAdminKey, "")
	_, stderr, stop := startServe(t, "--db", db)
	m := regexp.MustCompile(`Admin API key \(shown once\): (pl_\S+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no generated key:\n%s", stderr)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	generated := m[1]

	for _, c := range []struct{ name, key string }{
		{"another key", "pl_admin0000_quickstart-secret-key"},
		{"the stored id with another secret", generated[:strings.LastIndex(generated, "_")] + "_wrong-secret-0123456789"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(envAdminKey, c.key)
			code, out := runServeOnce(t, "--addr", "127.0.0.1:0", "--db", db)
			if code != 2 || !strings.Contains(out, envAdminKey+": is not an active admin key of this database") {
				t.Fatalf("code %d, stderr:\n%s", code, out)
			}
			if strings.Count(out, envAdminKey) != 1 || strings.Contains(out, c.key) {
				t.Fatalf("want the variable named once and the key not echoed:\n%s", out)
			}
		})
	}

	t.Run("the stored key", func(t *testing.T) {
		t.Setenv(envAdminKey, generated)
		base, _, stop := startServe(t, "--db", db)
		req, _ := http.NewRequest("GET", base+"/api/v1/keys", nil)
		req.Header.Set("Authorization", "Bearer "+generated)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("keys with the stored admin key: %d", resp.StatusCode)
		}
		if code := stop(); code != 0 {
			t.Fatalf("exit %d", code)
		}
	})
}

// TestHelpNamesTypes: serve -h types its numeric, duration and boolean
// flags (the flag package would call them all string), and migrate -h
// prints a usage of its own.
func TestHelpNamesTypes(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"serve", []string{"serve", "-h"}, []string{
			"-max-body-bytes int\n", "-max-batch-events int\n", "-max-inflight-ingest int\n",
			"-rate-limit number\n", "-rate-burst int\n", "-otel-sample-ratio number\n",
			"-read-timeout duration\n", "-shutdown-timeout duration\n", "-metrics bool\n",
			"-addr string\n", "(default 1048576)", `(default "127.0.0.1:8080")`,
		}},
		{"migrate", []string{"migrate", "-h"}, []string{
			"usage: promolift migrate [--db DB]", "Applies the pending database migrations", "-db string\n",
		}},
		{"retention", []string{"retention", "-h"}, []string{"-keep-months N\n"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := run(context.Background(), c.args, nil, io.Discard, &stderr); code != 0 {
				t.Fatalf("exit %d:\n%s", code, stderr.String())
			}
			out := stderr.String()
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("help lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "Usage of ") {
				t.Errorf("the flag package's bare usage:\n%s", out)
			}
			// A flag added later whose default is a number, a duration or
			// a boolean must not be typed string either.
			for _, m := range stringFlagDefault.FindAllStringSubmatch(out, -1) {
				if typedDefault(m[2]) {
					t.Errorf("-%s is typed string but its default %q is not: register it with addInt, addNumber, addDuration or addBool", m[1], m[2])
				}
			}
		})
	}
}

// stringFlagDefault matches a flag typed string with its default.
var stringFlagDefault = regexp.MustCompile(`(?m)^  -(\S+) string\n\s+.*\(default "([^"]*)"\)$`)

// typedDefault reports whether a default reads as a number, a duration or
// a boolean.
func typedDefault(v string) bool {
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return true
	}
	if _, err := time.ParseDuration(v); err == nil {
		return true
	}
	_, err := strconv.ParseBool(v)
	return err == nil
}

// TestDemoKeyFromEnvironment: demo --server takes the admin key the quick
// start exports, and PROMOLIFT_API_KEY only when that is unset.
func TestDemoKeyFromEnvironment(t *testing.T) {
	cases := []struct{ name, admin, api, want string }{
		{"admin key", "pl_admin0000_quickstart-secret-key", "", "pl_admin0000_quickstart-secret-key"},
		{"admin key wins", "pl_admin0000_quickstart-secret-key", "pl_other0000_other-secret-key-xx", "pl_admin0000_quickstart-secret-key"},
		{"api key as fallback", "", "pl_other0000_other-secret-key-xx", "pl_other0000_other-secret-key-xx"},
		{"none", "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(envAdminKey, c.admin)
			t.Setenv(envAPIKey, c.api)
			if got := demoKeyFromEnv(); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}
