package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
)

// BenchmarkCORS measures the CORS middleware alone on a gin engine: an
// actual GET from a listed origin (the request path of a browser SDK) and
// a preflight.
func BenchmarkCORS(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	a := &api{ops: newOps(Config{CORSOrigins: []string{"https://shop.example.com", "http://localhost:3000"}}, nil)}
	r := gin.New()
	r.Use(a.cors)
	r.GET("/api/v1/sdk/config", func(c *gin.Context) { c.Status(http.StatusOK) })
	get := httptest.NewRequest(http.MethodGet, "/api/v1/sdk/config", nil)
	get.Header.Set("Origin", "https://shop.example.com")
	pre := httptest.NewRequest(http.MethodOptions, "/api/v1/sdk/config", nil)
	pre.Header.Set("Origin", "https://shop.example.com")
	pre.Header.Set("Access-Control-Request-Method", "GET")
	pre.Header.Set("Access-Control-Request-Headers", "authorization,if-none-match")
	for _, bc := range []struct {
		name string
		req  *http.Request
		want int
	}{{"get", get, http.StatusOK}, {"preflight", pre, http.StatusNoContent}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				r.ServeHTTP(w, bc.req)
				if w.Code != bc.want {
					b.Fatalf("status %d, want %d", w.Code, bc.want)
				}
			}
		})
	}
}
