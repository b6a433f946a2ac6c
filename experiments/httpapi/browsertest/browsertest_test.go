package browsertest

import (
	"os"
	"testing"
)

// TestRedact: addresses in failure messages never carry their query,
// where a sign-in token may stand.
func TestRedact(t *testing.T) {
	cases := []struct{ url, want string }{
		{"http://127.0.0.1:8080/experiments/x?token=secret", "http://127.0.0.1:8080/experiments/x?…"},
		{"http://127.0.0.1:8080/console?status=running&token=s", "http://127.0.0.1:8080/console?…"},
		{"http://127.0.0.1:8080/console", "http://127.0.0.1:8080/console"},
		{"", ""},
	}
	for _, c := range cases {
		t.Run(c.url, func(t *testing.T) {
			if got := redact(c.url); got != c.want {
				t.Errorf("redact(%q) = %q, want %q", c.url, got, c.want)
			}
		})
	}
}

// TestArtifactsDir: PROMOLIFT_ARTIFACTS, when set, is where screenshots
// go (created if missing); otherwise a directory of the test's own.
func TestArtifactsDir(t *testing.T) {
	t.Run("set", func(t *testing.T) {
		dir := t.TempDir() + "/shots"
		t.Setenv("PROMOLIFT_ARTIFACTS", dir)
		if got := ArtifactsDir(t); got != dir {
			t.Fatalf("ArtifactsDir = %q, want %q", got, dir)
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			t.Fatalf("%s not created: %v", dir, err)
		}
	})
	t.Run("unset", func(t *testing.T) {
		t.Setenv("PROMOLIFT_ARTIFACTS", "")
		if got := ArtifactsDir(t); got == "" {
			t.Fatal("no directory")
		}
	})
}
