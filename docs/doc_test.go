package docs

import (
	"bytes"
	"os"
	"testing"
)

// TestReportIsReportMD: the page the server shows at /docs/report is the
// whole of report.md as it stands in the repository, with the sections the
// report's figures point readers to.
func TestReportIsReportMD(t *testing.T) {
	file, err := os.ReadFile("report.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(Report, file) {
		t.Fatal("the embedded Report differs from report.md")
	}
	for _, section := range []string{"## Units, exposures and attribution", "## Money", "## Statistics", "## Decision", "## Currencies"} {
		t.Run(section, func(t *testing.T) {
			if !bytes.Contains(Report, []byte("\n"+section)) {
				t.Errorf("report.md has no section %q", section)
			}
		})
	}
}
