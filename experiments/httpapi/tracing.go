package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Tracing (optional, off by default): when Config.TracerProvider is set,
// every request gets one server span named "METHOD route-pattern" (such as
// "GET /api/v1/experiments/:key"; "unmatched" when no route matched) with
// the attributes
//
//	http.request.method, http.route, http.response.status_code, promolift.request_id
//
// and nothing else: never the raw path, the query string, headers (the
// Authorization header above all), bodies or customer ids. An incoming W3C
// traceparent is continued through the global propagator
// (otel.GetTextMapPropagator), which promolift serve sets to W3C Trace
// Context. With a nil TracerProvider the middleware is not installed.

// tracerName is the instrumentation scope of the API's spans.
const tracerName = "github.com/promolift/promolift/experiments/httpapi"

// attrRequestID is the span attribute holding the request id.
const attrRequestID = "promolift.request_id"

// newTracing returns the tracing middleware, or nil when tp is nil.
func newTracing(tp trace.TracerProvider) gin.HandlerFunc {
	if tp == nil {
		return nil
	}
	tracer := tp.Tracer(tracerName)
	return func(c *gin.Context) {
		route := c.FullPath() // known before the handlers run
		if route == "" {
			route = "unmatched"
		}
		method := c.Request.Method
		ctx := otel.GetTextMapPropagator().Extract(c.Request.Context(), propagation.HeaderCarrier(c.Request.Header))
		ctx, span := tracer.Start(ctx, method+" "+route,
			trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(
				attribute.String("http.request.method", method),
				attribute.String("http.route", route),
				attribute.String(attrRequestID, c.GetString(ctxRequestID)),
			))
		defer span.End()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
		status := c.Writer.Status()
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	}
}
