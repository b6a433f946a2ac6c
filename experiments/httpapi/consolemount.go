package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/promolift/promolift/experiments"
)

// The console (package console) is mounted under /console: every request
// there is signed in exactly like the report pages (reportAuth: the
// Authorization header, ?token= once, then the HttpOnly cookie; scope
// analyst or admin), then handed to Config.Console with the caller and a
// session id on its context.

// ctxSession is the gin key of the session id of a signed-in page request.
const ctxSession = "promolift.session"

type consoleCtxKey int

const (
	principalKey consoleCtxKey = iota
	sessionKey
)

// sessionID identifies a browser session by its credential without
// holding it: the hex SHA-256 of the key it signed in with.
func sessionID(token string) string {
	h := sha256.Sum256([]byte("promolift session\x00" + token))
	return hex.EncodeToString(h[:])
}

// PrincipalFrom returns the signed-in caller of a console request.
func PrincipalFrom(ctx context.Context) (experiments.Principal, bool) {
	p, ok := ctx.Value(principalKey).(experiments.Principal)
	return p, ok
}

// SessionFrom returns the session id of a console request (see
// sessionID); the console binds its CSRF tokens to it.
func SessionFrom(ctx context.Context) string {
	s, _ := ctx.Value(sessionKey).(string)
	return s
}

// WithSession returns ctx carrying the caller and the session id, as the
// console mount passes them (tests of the console use it directly).
func WithSession(ctx context.Context, p experiments.Principal, session string) context.Context {
	return context.WithValue(context.WithValue(ctx, principalKey, p), sessionKey, session)
}

// mountConsole routes /console and everything below it to the console.
func (a *api) mountConsole(r *gin.Engine) {
	if a.cfg.Console == nil {
		return
	}
	h := func(c *gin.Context) {
		p, _ := principal(c)
		c.Request = c.Request.WithContext(WithSession(c.Request.Context(), p, c.GetString(ctxSession)))
		a.cfg.Console.ServeHTTP(c.Writer, c.Request)
	}
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		// The console narrows its lists to the caller's environment and
		// the Service binds what it writes (environment.go, EnvCaller).
		a.envRules[m+" /console"], a.envRules[m+" /console/*path"] = EnvCaller, EnvCaller
		r.Handle(m, "/console", a.reportAuth(true), h)
		r.Handle(m, "/console/*path", a.reportAuth(true), h)
	}
}

// PageCSS is the style sheet of the report pages, for the console's pages.
func PageCSS() string { return string(reportCSS) }

// Experiment converts the request to the domain experiment exactly as
// POST /api/v1/experiments does.
func (r *ExperimentRequest) Experiment() *experiments.Experiment { return r.toDomain() }

// Flag converts the request to the domain flag exactly as
// PUT /api/v1/flags/{key} does.
func (r *FlagRequest) Flag() *experiments.Flag { return r.toDomain() }

// FieldErrors are the field errors the API answers for err (a validation
// failure names every field at fault), or one error about field "" for
// an error that names no field.
func FieldErrors(err error) []FieldError {
	p := problemFor(err)
	if len(p.Errors) > 0 {
		return p.Errors
	}
	return []FieldError{{Field: p.Field, Code: p.Code, Detail: p.Detail}}
}
