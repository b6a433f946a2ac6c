package httpapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/promolift/promolift/experiments"
)

// require authenticates the bearer token and lets the request through
// when the key's scope is admin or one of scopes.
func (a *api) require(scopes ...experiments.Scope) gin.HandlerFunc {
	names := make([]string, len(scopes))
	for i, s := range scopes {
		names[i] = string(s)
	}
	if !slices.Contains(scopes, experiments.ScopeAdmin) {
		names = append(names, string(experiments.ScopeAdmin))
	}
	need := strings.Join(names, " or ")
	return func(c *gin.Context) {
		h := c.GetHeader("Authorization")
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			writeProblem(c, &Problem{Status: http.StatusUnauthorized, Code: "missing_key",
				Detail: "this route needs an API key: Authorization: Bearer <key>"})
			c.Abort()
			return
		}
		p, err := a.svc.Authenticate(c.Request.Context(), strings.TrimSpace(token))
		if err != nil {
			if experiments.KindOf(err) == experiments.KindUnauthorized && a.authFailed(c, false) {
				return
			}
			abortProblem(c, err)
			return
		}
		c.Set(ctxPrincipal, p)
		if !a.rateLimit(c, p, false) {
			return
		}
		if p.Scope != experiments.ScopeAdmin && !slices.Contains(scopes, p.Scope) {
			writeProblem(c, &Problem{Status: http.StatusForbidden, Code: "insufficient_scope",
				Detail: "this route needs a key with scope " + need + "; this key has scope " + string(p.Scope)})
			c.Abort()
			return
		}
		if err := a.checkEnvironment(c, p); err != nil {
			abortProblem(c, err)
			return
		}
		c.Next()
	}
}

// principal returns the authenticated caller.
func principal(c *gin.Context) (experiments.Principal, bool) {
	v, ok := c.Get(ctxPrincipal)
	if !ok {
		return experiments.Principal{}, false
	}
	p, ok := v.(experiments.Principal)
	return p, ok
}

func who(c *gin.Context) experiments.Principal {
	p, _ := principal(c)
	return p
}
