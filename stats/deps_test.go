package stats

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps fails when a statistics package imports anything outside the
// standard library, gonum and the statistics packages it is allowed to
// build on, so the analysis stays free of the service's dependencies.
func TestDeps(t *testing.T) {
	const mod = "github.com/promolift/promolift/"
	for _, c := range []struct {
		dir     string
		allowed []string // promolift packages besides the package itself
	}{
		{".", nil},
		{"./bandit", nil},
		{"./policy", []string{mod + "stats"}},
	} {
		t.Run(c.dir, func(t *testing.T) {
			self := strings.TrimSuffix(mod+"stats/"+strings.TrimPrefix(c.dir, "./"), "/.")
			out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", c.dir).Output()
			if err != nil {
				t.Skipf("go list unavailable: %v", err)
			}
			for _, p := range strings.Fields(string(out)) {
				ok := p == self || strings.HasPrefix(p, "gonum.org/v1/gonum/")
				for _, a := range c.allowed {
					ok = ok || p == a
				}
				if !ok {
					t.Errorf("%s depends on %s: only the standard library, gonum and %v are allowed", self, p, c.allowed)
				}
			}
		})
	}
}
