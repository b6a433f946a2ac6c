package bandit

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps fails when the package imports anything outside the standard
// library and gonum.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != "github.com/promolift/promolift/stats/bandit" && !strings.HasPrefix(p, "gonum.org/v1/gonum/") {
			t.Errorf("bandit depends on %s: only the standard library and gonum are allowed", p)
		}
	}
}
