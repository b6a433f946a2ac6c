package assign

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps enforces the dependency rule of DESIGN.md: assign imports the
// standard library only (modelled on go/build/deps_test.go).
func TestDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != "github.com/promolift/promolift/assign" {
			t.Errorf("assign depends on non-standard package %s", p)
		}
	}
}
