package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestKeysCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keys.db")
	code, out, errOut := runCLI(t, "keys", "create", "--db", db, "--scope", "sdk", "--name", "shop", "--environment", "staging")
	if code != 0 {
		t.Fatalf("create: %d %s", code, errOut)
	}
	token := strings.TrimSpace(out)
	if !strings.HasPrefix(token, "pl_") || strings.Count(out, "\n") != 1 {
		t.Fatalf("create printed %q", out)
	}
	id := strings.Split(token, "_")[1]

	code, out, _ = runCLI(t, "keys", "list", "--db", db)
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "staging") || strings.Contains(out, token) {
		t.Fatalf("list: %d %s", code, out)
	}
	// Flags may follow the ID.
	code, out, errOut = runCLI(t, "keys", "revoke", id, "--db", db)
	if code != 0 || !strings.Contains(out, "revoked "+id) {
		t.Fatalf("revoke: %d %s %s", code, out, errOut)
	}
	_, out, _ = runCLI(t, "keys", "list", "--db", db)
	if !strings.Contains(out, id) || !strings.Contains(out, "Z\n") {
		t.Fatalf("list after revoke: %s", out)
	}
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"keys"}, 2},
		{[]string{"keys", "frob"}, 2},
		{[]string{"keys", "create", "--db", db}, 2},
		{[]string{"keys", "create", "--db", db, "--scope", "root"}, 2},
		{[]string{"keys", "revoke", "--db", db}, 2},
		{[]string{"keys", "revoke", "--db", db, "nothere"}, 1},
		{[]string{"keys", "list", "--db", db, "extra"}, 2},
	} {
		if code, _, _ := runCLI(t, c.args...); code != c.code {
			t.Errorf("%v: exit %d, want %d", c.args, code, c.code)
		}
	}
}

func TestMigrateAndVersion(t *testing.T) {
	db := filepath.Join(t.TempDir(), "m.db")
	t.Setenv(envDatabaseURL, db)
	code, out, errOut := runCLI(t, "migrate")
	if code != 0 || !strings.Contains(out, "applied  0001") || !strings.Contains(out, "schema version") {
		t.Fatalf("migrate: %d\n%s\n%s", code, out, errOut)
	}
	// Idempotent.
	if code, _, _ := runCLI(t, "migrate", "--db", db); code != 0 {
		t.Fatal("second migrate failed")
	}
	code, out, _ = runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "promolift dev (go") {
		t.Fatalf("version: %q", out)
	}
	if code, _, _ := runCLI(t, "migrate", "--bogus"); code != 2 {
		t.Fatal("bad flag accepted")
	}
}
