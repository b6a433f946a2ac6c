package sdk

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps checks that sdk imports only assign and the standard library.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	allowed := map[string]bool{
		"github.com/promolift/promolift/sdk":    true,
		"github.com/promolift/promolift/assign": true,
	}
	for _, p := range strings.Fields(string(out)) {
		if !allowed[p] {
			t.Errorf("sdk depends on %s: only assign and the standard library are allowed", p)
		}
	}
}
