package policy

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps fails when the package imports anything outside the standard
// library, gonum and package stats.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		switch {
		case p == "github.com/promolift/promolift/stats/policy", p == "github.com/promolift/promolift/stats":
		case strings.HasPrefix(p, "gonum.org/v1/gonum/"):
		default:
			t.Errorf("policy depends on %s: only the standard library, gonum and stats are allowed", p)
		}
	}
}
