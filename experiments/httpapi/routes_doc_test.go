package httpapi

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// apiDoc is the API reference kept in step with Routes().
const apiDoc = "../../docs/api.md"

// docRouteRow matches a row of the routes table of docs/api.md:
// | GET | `/api/v1/experiments/{key}?a=&b=` | scope | success |
var docRouteRow = regexp.MustCompile("(?m)^\\| (GET|HEAD|POST|PUT|PATCH|DELETE) \\| `(/[^`?]*)[^`]*` \\|")

// docPath turns a documented path ("/flags/{key}") into the router's
// pattern ("/flags/:key").
func docPath(p string) string {
	return regexp.MustCompile(`\{([a-z_]+)\}`).ReplaceAllString(p, ":$1")
}

// patternDoc turns a router pattern into its documented form.
func patternDoc(p string) string {
	return regexp.MustCompile(`:([a-z_]+)`).ReplaceAllString(p, "{$1}")
}

func routeKey(method, path string) string { return method + " " + path }

// TestRoutesListsEveryRoute: Routes() names exactly the routes the
// handler serves, so that the documentation test below sees them all.
func TestRoutesListsEveryRoute(t *testing.T) {
	e := newEnv(t, Config{})
	served := map[string]bool{}
	for _, r := range e.h.(rawPathRouter).Engine().Routes() {
		served[routeKey(r.Method, r.Path)] = true
	}
	listed := map[string]bool{}
	for _, r := range Routes() {
		k := routeKey(r.Method, r.Path)
		if listed[k] {
			t.Errorf("Routes() lists %s twice", k)
		}
		listed[k] = true
	}
	var missing, extra []string
	for k := range served {
		if !listed[k] {
			m, p, _ := strings.Cut(k, " ")
			missing = append(missing, fmt.Sprintf("{%q, %q, <scopes>},", m, p))
		}
	}
	for k := range listed {
		if !served[k] {
			extra = append(extra, k)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	if len(missing) > 0 {
		t.Errorf("the handler serves routes that Routes() does not list; add to the routes list in api.go (or an init of the file that registers them):\n\t%s",
			strings.Join(missing, "\n\t"))
	}
	if len(extra) > 0 {
		t.Errorf("Routes() lists routes the handler does not serve; remove them from the routes list:\n\t%s", strings.Join(extra, "\n\t"))
	}
}

// TestAPIDocListsEveryRoute: every route of Routes() has a row in the
// routes table of docs/api.md, and every row names a route that exists.
func TestAPIDocListsEveryRoute(t *testing.T) {
	doc, err := os.ReadFile(apiDoc)
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range docRouteRow.FindAllStringSubmatch(string(doc), -1) {
		documented[routeKey(m[1], docPath(m[2]))] = true
	}
	listed := map[string]bool{}
	var missing []string
	for _, r := range Routes() {
		k := routeKey(r.Method, r.Path)
		listed[k] = true
		if !documented[k] {
			scopes := "none"
			if len(r.Scopes) > 0 {
				names := make([]string, len(r.Scopes))
				for i, s := range r.Scopes {
					names[i] = string(s)
				}
				scopes = strings.Join(names, ", ")
			}
			missing = append(missing, fmt.Sprintf("| %s | `%s` | %s | <status and answer> |", r.Method, patternDoc(r.Path), scopes))
		}
	}
	var stale []string
	for k := range documented {
		if !listed[k] {
			stale = append(stale, k)
		}
	}
	slices.Sort(missing)
	slices.Sort(stale)
	if len(missing) > 0 {
		t.Errorf("docs/api.md lacks routes; add these rows to its Routes table:\n%s", strings.Join(missing, "\n"))
	}
	if len(stale) > 0 {
		t.Errorf("docs/api.md documents routes that do not exist (not in httpapi.Routes()); remove or fix these rows:\n\t%s",
			strings.Join(stale, "\n\t"))
	}
}

// auditAction finds the audit actions the service records: s.audit(ctx,
// who, "flag.create", ...) and AuditEntry{... Action: "customer.erase"}.
var auditAction = regexp.MustCompile(`(?:\.audit\(ctx, [^,]+, |Action: +)"([a-z_]+\.[a-z_]+)"`)

// TestAPIDocListsEveryAuditAction: every audit action the service writes
// is named in the audit section of docs/api.md (as "flag.create" or in a
// group such as "flag.create|update|delete").
func TestAPIDocListsEveryAuditAction(t *testing.T) {
	doc, err := os.ReadFile(apiDoc)
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, m := range regexp.MustCompile("`([a-z_]+)\\.([a-z_|]+)`").FindAllStringSubmatch(string(doc), -1) {
		for _, verb := range strings.Split(m[2], "|") {
			named[m[1]+"."+verb] = true
		}
	}
	files, err := os.ReadDir("..")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, f := range files {
		if f.IsDir() || !strings.HasSuffix(f.Name(), ".go") || strings.HasSuffix(f.Name(), "_test.go") {
			continue
		}
		src, err := os.ReadFile("../" + f.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range auditAction.FindAllStringSubmatch(string(src), -1) {
			found++
			if !named[m[1]] {
				t.Errorf("audit action %q (experiments/%s) is not in docs/api.md: add it to the actions of the Audit log section", m[1], f.Name())
			}
		}
	}
	if found < 5 {
		t.Fatalf("found only %d audit actions in package experiments: the pattern is out of date", found)
	}
}
