package httpapi

import (
	"strconv"
	"strings"
	"testing"
)

// TestDefaultBodyLimit: with the default configuration (no MaxBodyBytes
// given) a body of exactly 1 MiB is read and one byte more is refused with
// 413 naming the limit, on a definition route and on the events route.
func TestDefaultBodyLimit(t *testing.T) {
	e := newEnv(t, Config{})
	const limit = 1 << 20
	if DefaultMaxBodyBytes != limit {
		t.Fatalf("DefaultMaxBodyBytes = %d, documented as 1048576 (README, docs/api.md, serve -h)", DefaultMaxBodyBytes)
	}
	// pad returns the JSON document doc followed by white space up to n bytes.
	pad := func(doc string, n int) string { return doc + strings.Repeat(" ", n-len(doc)) }
	cases := []struct {
		name, method, path, doc string
	}{
		{"events", "POST", "/api/v1/events", `{"events": []}`},
		{"experiment", "POST", "/api/v1/experiments", `{"key": "x"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			token := e.admin
			if c.path == "/api/v1/events" {
				token = e.sdk
			}
			if w := e.do(c.method, c.path, token, pad(c.doc, limit)); w.Code == 413 {
				t.Fatalf("a body of exactly %d bytes was refused: %s", limit, w.Body.String())
			}
			p := problem(t, e.do(c.method, c.path, token, pad(c.doc, limit+1)), 413)
			if p.Code != "body_too_large" || !strings.Contains(p.Detail, strconv.Itoa(limit)) {
				t.Fatalf("want body_too_large naming %d: %+v", limit, p)
			}
		})
	}
}
