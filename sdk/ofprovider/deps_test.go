package ofprovider

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports checks that ofprovider imports only sdk, assign, the
// OpenFeature Go SDK and the standard library.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		switch {
		case !strings.Contains(strings.SplitN(p, "/", 2)[0], "."): // standard library
		case p == "github.com/promolift/promolift/sdk", p == "github.com/promolift/promolift/assign":
		case strings.HasPrefix(p, "github.com/open-feature/go-sdk/"):
		default:
			t.Errorf("ofprovider imports %s", p)
		}
	}
}
