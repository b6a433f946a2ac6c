package console

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"log/slog"
	"net/http"
	"strings"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/httpapi"
)

// Reports answers reports (the report snapshots of package reportsnap).
type Reports interface {
	Report(ctx context.Context, exp *experiments.Experiment, opts experiments.ReportOptions) (*experiments.Report, error)
}

// Console is the HTTP handler of the console. Mount it with
// httpapi.Config.Console: it expects the caller and the session on the
// request context (httpapi.PrincipalFrom, httpapi.SessionFrom).
type Console struct {
	svc     *experiments.Service
	reports Reports
	log     *slog.Logger
	mux     *http.ServeMux
	origin  *http.CrossOriginProtection
}

// Route is one route of the console and the scopes that may call it.
type Route struct {
	Method, Path string
	Admin        bool // false: analyst or admin
}

// routes lists the console's routes (docs/console.md describes them).
var routes = []Route{
	{"GET", "/console", false},
	{"GET", "/console/experiments", false},
	{"GET", "/console/experiments/new", true},
	{"POST", "/console/experiments/new", true},
	{"GET", "/console/experiments/{key}", false},
	{"GET", "/console/experiments/{key}/edit", true},
	{"POST", "/console/experiments/{key}/edit", true},
	{"GET", "/console/experiments/{key}/confirm/{action}", true},
	{"POST", "/console/experiments/{key}/{action}", true},
	{"GET", "/console/experiments/{key}/explain", false},
	{"GET", "/console/flags", false},
	{"GET", "/console/flags/{key}", false},
	{"POST", "/console/flags/{key}", true},
	{"GET", "/console/keys", true},
	{"POST", "/console/keys", true},
	{"POST", "/console/keys/{id}/revoke", true},
	{"GET", "/console/audit", true},
}

// Routes lists the console's routes.
func Routes() []Route { return routes }

// New returns the console over svc, reading reports from reports. log may
// be nil.
func New(svc *experiments.Service, reports Reports, log *slog.Logger) *Console {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Console{svc: svc, reports: reports, log: log, mux: http.NewServeMux(), origin: http.NewCrossOriginProtection()}
	handlers := map[string]http.HandlerFunc{
		"GET /console": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/console/experiments", http.StatusSeeOther)
		},
		"GET /console/experiments":                        c.listExperiments,
		"GET /console/experiments/new":                    c.newExperiment,
		"POST /console/experiments/new":                   c.createExperiment,
		"GET /console/experiments/{key}":                  c.showExperiment,
		"GET /console/experiments/{key}/edit":             c.editExperiment,
		"POST /console/experiments/{key}/edit":            c.updateExperiment,
		"GET /console/experiments/{key}/confirm/{action}": c.confirmTransition,
		"POST /console/experiments/{key}/{action}":        c.transition,
		"GET /console/experiments/{key}/explain":          c.explain,
		"GET /console/flags":                              c.listFlags,
		"GET /console/flags/{key}":                        c.showFlag,
		"POST /console/flags/{key}":                       c.updateFlag,
		"GET /console/keys":                               c.listKeys,
		"POST /console/keys":                              c.createKey,
		"POST /console/keys/{id}/revoke":                  c.revokeKey,
		"GET /console/audit":                              c.listAudit,
	}
	for _, rt := range routes {
		h := handlers[rt.Method+" "+rt.Path]
		if rt.Method == http.MethodPost {
			h = c.checkCSRF(h)
		}
		if rt.Admin {
			h = c.adminOnly(h)
		}
		c.mux.HandleFunc(rt.Method+" "+rt.Path, h)
	}
	return c
}

// ServeHTTP serves a console request.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, ok := httpapi.PrincipalFrom(r.Context()); !ok {
		c.fail(w, r, http.StatusUnauthorized, "Sign in", "open the console once with ?token=<your API key>")
		return
	}
	if _, pattern := c.mux.Handler(r); pattern == "" {
		c.fail(w, r, http.StatusNotFound, "Not found", "there is no console page at this address")
		return
	}
	c.mux.ServeHTTP(w, r)
}

func who(r *http.Request) experiments.Principal {
	p, _ := httpapi.PrincipalFrom(r.Context())
	return p
}

// adminOnly lets only admin keys through: analysts read.
func (c *Console) adminOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if who(r).Scope != experiments.ScopeAdmin {
			c.fail(w, r, http.StatusForbidden, "Admins only", "this page changes the service: it needs an admin key; your key reads")
			return
		}
		h(w, r)
	}
}

// csrfToken is the session's token for its forms: an HMAC keyed by the
// session id (itself a hash of the key the browser signed in with, never
// sent to it), so only that session can compute it, and every replica
// and restart agrees on it.
func (c *Console) csrfToken(r *http.Request) string {
	m := hmac.New(sha256.New, []byte(httpapi.SessionFrom(r.Context())))
	m.Write([]byte("promolift console csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF refuses a state-changing request that a browser marks as
// cross-site (Sec-Fetch-Site, or an Origin of another host) or whose form
// lacks the session's token.
func (c *Console) checkCSRF(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := c.origin.Check(r); err != nil {
			c.fail(w, r, http.StatusForbidden, "Refused", "this form was sent from another site; open the console and send it from there")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 256<<10)
		if err := r.ParseForm(); err != nil {
			c.fail(w, r, http.StatusBadRequest, "Bad form", "the form could not be read")
			return
		}
		got := r.PostForm.Get("_csrf")
		if httpapi.SessionFrom(r.Context()) == "" || !hmac.Equal([]byte(got), []byte(c.csrfToken(r))) {
			c.fail(w, r, http.StatusForbidden, "Form expired", "this form has no valid security token (it expired or came from another site); reload the page and send it again")
			return
		}
		h(w, r)
	}
}

// page is what every console template receives.
type page struct {
	Title  string
	CSS    template.CSS
	Who    experiments.Principal
	Admin  bool
	CSRF   string
	Nav    string
	Notice string
	Data   any
}

//go:embed web
var webFS embed.FS

var css = template.CSS(httpapi.PageCSS() + mustRead("web/console.css")) //nolint:gosec // our own embedded files

func mustRead(name string) string {
	b, err := webFS.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

var templates = template.Must(template.New("").Funcs(funcs).ParseFS(webFS, "web/*.tmpl"))

// render writes the template name inside the console's layout.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name, title, nav string, data any) {
	p := who(r)
	pg := page{Title: title, CSS: css, Who: p, Admin: p.Scope == experiments.ScopeAdmin, CSRF: c.csrfToken(r), Nav: nav, Data: data}
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, pg); err != nil {
		c.log.Error("render console page", "template", name, "err", err)
		http.Error(w, "could not render the page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

type failure struct{ Detail string }

// fail answers an error page.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, status int, title, detail string) {
	c.render(w, r, status, "error", title, "", failure{Detail: detail})
}

// failErr answers the error page of a service error: its status and its
// message as the API words it (internal errors stay in the log).
func (c *Console) failErr(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	switch experiments.KindOf(err) {
	case experiments.KindNotFound:
		status = http.StatusNotFound
	case experiments.KindInvalid:
		status = http.StatusUnprocessableEntity
	case experiments.KindConflict:
		status = http.StatusConflict
	case experiments.KindForbidden:
		status = http.StatusForbidden
	case experiments.KindUnavailable:
		status = http.StatusServiceUnavailable
	}
	if status == http.StatusInternalServerError {
		c.log.Error("console", "path", r.URL.Path, "err", err)
		c.fail(w, r, status, "Error", "something went wrong; the server log has the details")
		return
	}
	fe := httpapi.FieldErrors(err)
	msgs := make([]string, len(fe))
	for i, f := range fe {
		msgs[i] = f.Detail
	}
	c.fail(w, r, status, http.StatusText(status), strings.Join(msgs, "; "))
}

// visible loads an experiment the caller may see (a key bound to an
// environment sees only its own; others answer as missing).
func (c *Console) visible(r *http.Request, key string) (*experiments.Experiment, error) {
	e, err := c.svc.GetExperiment(r.Context(), key)
	if err != nil {
		return nil, err
	}
	if env := who(r).Environment; env != "" && e.Environment != env {
		return nil, &experiments.Error{Kind: experiments.KindNotFound, Code: "not_found", Message: "no experiment " + key}
	}
	return e, nil
}
