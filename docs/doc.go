// Package docs holds the project's documentation pages and embeds the ones
// the server shows: Report is report.md, the definitions of every figure of
// an experiment report, served at /docs/report and linked from the HTML
// report.
package docs

import _ "embed"

// Report is report.md.
//
//go:embed report.md
var Report []byte
