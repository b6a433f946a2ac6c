package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/promolift/promolift/experiments/sqlite"
)

// TestCLIBadInput feeds the catalogue of bad inputs to the commands that
// read JSON (analyze, plan) and to the flags of keys and serve: each must
// exit 2 with a message on stderr, never panic, and leave the store as it
// was.
func TestCLIBadInput(t *testing.T) {
	good, err := os.ReadFile(designExample)
	if err != nil {
		t.Fatal(err)
	}
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	big := `"` + strings.Repeat("a", 1<<20) + `"`
	inputs := []struct{ name, in string }{
		{"empty", ""},
		{"blank", " \n\t"},
		{"malformed", `{"metric":`},
		{"top-level array", `[1,2]`},
		{"top-level string", `"x"`},
		{"NaN literal", `{"metric": NaN}`},
		{"Infinity literal", `{"baseline": Infinity}`},
		{"deep nesting", deep},
		{"deep nesting in field", `{"metric": ` + deep + `}`},
		{"invalid UTF-8", "{\"metric\": \"\xff\xfe\"}"},
		{"1 MB string", `{"metric": ` + big + `}`},
		{"SQL", `{"metric": "'; DROP TABLE events; --"}`},
		{"NUL", `{"metric": "a\u0000b"}`},
	}
	numbers := []string{"1e400", "-1e400", "18446744073709551616", "NaN", "Infinity", `"12"`, "-5", "{}"}
	for _, cmd := range []string{"analyze", "plan"} {
		base := `{"metric":"proportion","baseline":0.1,"treatment":0.11,"alpha":0.05,"power":0.8}`
		field := `"baseline":0.1`
		if cmd == "analyze" {
			base = string(good)
			field = `"units": 10000, "promotion_cost": 20000`
		}
		cases := append([]struct{ name, in string }{}, inputs...)
		for _, n := range numbers {
			if cmd == "analyze" && n == "18446744073709551616" {
				continue // units are counted in float64: 2^64 is a (silly) valid count
			}
			repl := strings.SplitN(field, ":", 2)[0] + ": " + n
			if cmd == "analyze" {
				repl = `"units": ` + n + `, "promotion_cost": 20000`
			}
			if !strings.Contains(base, field) {
				t.Fatalf("%s: %s not in the base input", cmd, field)
			}
			cases = append(cases, struct{ name, in string }{"number " + n, strings.Replace(base, field, repl, 1)})
		}
		dup := field
		if cmd == "analyze" {
			dup = `"control": "control"`
		}
		cases = append(cases, struct{ name, in string }{"duplicate key", "{" + dup + "," + strings.TrimPrefix(strings.TrimSpace(base), "{")})
		for _, tc := range cases {
			t.Run(cmd+"/"+tc.name, func(t *testing.T) {
				code, out, stderr := runCmdSafe(t, cmd, []string{"--compact"}, tc.in)
				if code != 2 || strings.TrimSpace(stderr) == "" {
					t.Errorf("exit %d, stderr %.200q, stdout %.100q; want exit 2 and a message", code, stderr, out)
				}
			})
		}
	}

	// keys and serve flags over a store that must not change.
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "cli.db")
	s, err := sqlite.Open(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	count := func() int {
		s, err := sqlite.Open(ctx, db, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var n int
		if err := s.DB().GetContext(ctx, &n, `SELECT (SELECT count(*) FROM api_keys) + (SELECT count(*) FROM audit_log) + (SELECT count(*) FROM experiments) + (SELECT count(*) FROM events)`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	flagCases := []struct {
		cmd  string
		args []string
	}{
		{"keys", []string{"create", "--db", db, "--scope", "root"}},
		{"keys", []string{"create", "--db", db, "--scope", "'; DROP TABLE api_keys; --"}},
		{"keys", []string{"create", "--db", db, "--scope", "sdk\x00"}},
		{"keys", []string{"create", "--db", db, "--scope", "\xff"}},
		{"keys", []string{"create", "--db", db}},
		{"keys", []string{"create", "--db", db, "--scope", "sdk", "--name", "a\x00b"}},
		{"keys", []string{"create", "--db", db, "--scope", "sdk", "--name", strings.Repeat("n", 1<<20)}},
		{"keys", []string{"create", "--db", db, "--scope", "sdk", "--name", "\xff\xfe"}},
		{"keys", []string{"revoke", "--db", db}},
		{"keys", []string{"revoke", "--db", db, "a", "b"}},
		{"keys", []string{"bogus", "--db", db}},
		{"keys", []string{"list", "--db", db, "--bogus"}},
		{"keys", nil},
		{"serve", []string{"--db", db, "--addr", "nowhere"}},
		{"serve", []string{"--db", db, "--addr", "127.0.0.1:99999"}},
		{"serve", []string{"--db", db, "--max-body-bytes", "1e400"}},
		{"serve", []string{"--db", db, "--max-body-bytes", "18446744073709551616"}},
		{"serve", []string{"--db", db, "--max-body-bytes", "-5"}},
		{"serve", []string{"--db", db, "--max-batch-events", "NaN"}},
		{"serve", []string{"--db", db, "--read-timeout", "Infinity"}},
		{"serve", []string{"--db", db, "--read-timeout", "-1s"}},
		{"serve", []string{"--db", db, "--log-level", "'; DROP TABLE events; --"}},
		{"serve", []string{"--db", db, "--log-format", "xml"}},
		{"serve", []string{"--db", "", "--addr", "127.0.0.1:0"}},
		{"serve", []string{"--db", db, "--tls-cert", "x.pem"}},
		{"serve", []string{"--db", db, "extra"}},
		{"serve", []string{"--db", db, "--bogus"}},
		{"serve", []string{"--db", db, "--max-inflight-ingest", "-2"}},
		{"serve", []string{"--db", db, "--max-inflight-ingest", "many"}},
		{"serve", []string{"--db", db, "--exposure-batch-events", "0"}},
		{"serve", []string{"--db", db, "--exposure-lanes", "2"}},
		{"serve", []string{"--db", db, "--exposure-batch-wait", "-1ms"}},
	}
	for _, tc := range flagCases {
		name := tc.cmd + " " + strings.Join(tc.args, " ")
		code, _, stderr := runCmdSafe(t, tc.cmd, tc.args, "")
		if code != 2 || strings.TrimSpace(stderr) == "" {
			t.Errorf("%.80q: exit %d, stderr %.200q; want exit 2 and a message", name, code, stderr)
		}
	}
	if after := count(); after != before {
		t.Errorf("the store changed: %d rows before, %d after", before, after)
	}
}

// runCmdSafe is runCmd that turns a panic into a test failure.
func runCmdSafe(t *testing.T, name string, args []string, stdin string) (code int, out, stderr string) {
	t.Helper()
	defer func() {
		if v := recover(); v != nil {
			t.Errorf("%s %q: panic: %v", name, args, v)
			code = -1
		}
	}()
	return runCmd(t, name, args, stdin)
}
