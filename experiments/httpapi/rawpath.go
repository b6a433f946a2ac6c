package httpapi

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// customersPrefix is where a path segment may carry an encoded slash:
// unit ids are free text (any UTF-8 without NUL, docs/api.md), so
// /api/v1/customers/a%2Fb names the customer "a/b".
const customersPrefix = "/api/v1/customers/"

// rawPathRouter routes the customers' routes on the raw (still escaped)
// path, so that %2F inside a unit id is data and not a separator, and
// every other route on the decoded path exactly as before.
type rawPathRouter struct{ engine *gin.Engine }

func newRawPathRouter(e *gin.Engine) rawPathRouter {
	e.UseRawPath = true
	e.UnescapePathValues = true // the handlers see "a/b", not "a%2Fb"
	return rawPathRouter{engine: e}
}

func (h rawPathRouter) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.RawPath != "" && !strings.HasPrefix(req.URL.RawPath, customersPrefix) {
		r2 := *req
		u := *req.URL
		u.RawPath = ""
		r2.URL = &u
		req = &r2
	}
	h.engine.ServeHTTP(w, req)
}

// Engine returns the gin engine behind the handler, for tests that list
// its routes and middleware.
func (h rawPathRouter) Engine() *gin.Engine { return h.engine }
