package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/rs/cors"
)

// CORS for browser SDKs, applied by github.com/rs/cors. With
// Config.CORSOrigins empty the API sends no CORS headers at all. Otherwise
// a request whose Origin is listed (or any origin with "*") gets
// Access-Control-Allow-Origin and Access-Control-Expose-Headers. A
// preflight (OPTIONS with Access-Control-Request-Method) from a listed
// origin asking for an allowed method and allowed headers is answered 204
// with the requested method and headers echoed and a max age; any other
// preflight gets no CORS headers and falls through to routing (404/405).
// Credentials (cookies) are never allowed: the API authenticates by header.

var (
	corsAllowMethods  = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete}
	corsAllowHeaders  = []string{"Authorization", "Content-Type", "If-None-Match", "X-API-Key", "X-Request-ID"}
	corsExposeHeaders = []string{"ETag", "Retry-After", "X-Request-ID"}
)

// corsMaxAge is how long, in seconds, a browser may cache a preflight answer.
const corsMaxAge = 600

// newCORS is the CORS policy for origins, nil when there are none.
func newCORS(origins []string) *cors.Cors {
	var list []string
	for _, o := range origins {
		if o = strings.TrimRight(strings.TrimSpace(o), "/"); o != "" {
			list = append(list, o)
		}
	}
	if len(list) == 0 {
		return nil
	}
	return cors.New(cors.Options{
		AllowedOrigins:     list,
		AllowedMethods:     corsAllowMethods,
		AllowedHeaders:     corsAllowHeaders,
		ExposedHeaders:     corsExposeHeaders,
		MaxAge:             corsMaxAge,
		AllowCredentials:   false,
		OptionsPassthrough: true, // the middleware answers only accepted preflights
	})
}

// ParseCORSOrigins parses a comma-separated list of origins, such as
// "https://shop.example.com, http://localhost:3000", or "*" for any. Each
// origin is scheme://host[:port] with scheme http or https, no path and no
// wildcard in the host. An empty list (no CORS) is nil.
func ParseCORSOrigins(s string) ([]string, error) {
	var out []string
	for _, o := range strings.Split(s, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if o != "*" {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Contains(u.Host, "*") ||
				(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
				return nil, fmt.Errorf("%q is not an origin: want scheme://host[:port] such as https://shop.example.com, or *", o)
			}
			o = strings.TrimRight(o, "/")
		}
		out = append(out, o)
	}
	return out, nil
}

// cors is the middleware applying the CORS policy. rs/cors sets the
// headers; a preflight it accepted (Access-Control-Allow-Origin set) ends
// here with 204.
func (a *api) cors(c *gin.Context) {
	p := a.ops.cors
	if p == nil {
		c.Next()
		return
	}
	p.ServeHTTP(c.Writer, c.Request, corsPassThrough)
	r := c.Request
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" &&
		c.Writer.Header().Get("Access-Control-Allow-Origin") != "" {
		c.AbortWithStatus(http.StatusNoContent)
		return
	}
	c.Next()
}

// corsPassThrough is the next handler given to rs/cors: gin's chain goes
// on in the middleware instead.
func corsPassThrough(http.ResponseWriter, *http.Request) {}
