package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

// CORS for browser SDKs. With Config.CORSOrigins empty the API sends no
// CORS headers at all. Otherwise a request whose Origin is listed (or any
// origin with "*") gets Access-Control-Allow-Origin, and its preflight
// (OPTIONS with Access-Control-Request-Method) is answered 204 with the
// allowed methods and headers. Credentials (cookies) are never allowed:
// the API authenticates by header.

const (
	corsAllowMethods  = "GET, HEAD, POST, PUT, DELETE, OPTIONS"
	corsAllowHeaders  = "Authorization, Content-Type, If-None-Match, X-API-Key, X-Request-ID"
	corsExposeHeaders = "ETag, Retry-After, X-Request-ID"
	corsMaxAge        = "600"
)

type corsPolicy struct {
	any     bool
	origins map[string]bool
}

func newCORSPolicy(origins []string) *corsPolicy {
	p := &corsPolicy{origins: map[string]bool{}}
	for _, o := range origins {
		o = strings.TrimSpace(o)
		if o == "*" {
			p.any = true
		} else if o != "" {
			p.origins[strings.ToLower(strings.TrimRight(o, "/"))] = true
		}
	}
	return p
}

func (p *corsPolicy) allows(origin string) bool {
	return p.any || p.origins[strings.ToLower(origin)]
}

// ParseCORSOrigins parses a comma-separated list of origins, such as
// "https://shop.example.com, http://localhost:3000", or "*" for any. Each
// origin is scheme://host[:port] with scheme http or https and no path.
// An empty list (no CORS) is nil.
func ParseCORSOrigins(s string) ([]string, error) {
	var out []string
	for _, o := range strings.Split(s, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if o != "*" {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
				(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
				return nil, fmt.Errorf("%q is not an origin: want scheme://host[:port] such as https://shop.example.com, or *", o)
			}
			o = strings.TrimRight(o, "/")
		}
		out = append(out, o)
	}
	return out, nil
}

// cors is the middleware applying the CORS policy.
func (a *api) cors(c *gin.Context) {
	p := a.ops.cors
	if p == nil {
		c.Next()
		return
	}
	h := c.Writer.Header()
	h.Add("Vary", "Origin")
	origin := c.GetHeader("Origin")
	if origin == "" || !p.allows(origin) {
		c.Next()
		return
	}
	if p.any {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
	}
	if c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != "" {
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", corsMaxAge)
		c.AbortWithStatus(http.StatusNoContent)
		return
	}
	h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	c.Next()
}
