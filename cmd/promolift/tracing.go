package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Optional OpenTelemetry tracing of serve, off by default. With
// --otel-endpoint (PROMOLIFT_OTEL_ENDPOINT) set to an OTLP/HTTP collector
// such as http://otel-collector:4318, every request's server span (see
// experiments/httpapi/tracing.go) is batched and exported to
// <endpoint>/v1/traces (an endpoint with a path of its own is used as
// given). --otel-sample-ratio picks the share of new traces sampled;
// incoming W3C traceparent headers are continued and their sampling
// decision kept. The standard OTEL_EXPORTER_OTLP_* variables (headers,
// timeout, compression, certificates) still apply to the exporter.

// otelTracesPath is the OTLP/HTTP path of traces.
const otelTracesPath = "/v1/traces"

// tracingOptions are serve's tracing flags.
type tracingOptions struct{ endpoint, ratio *option }

func addTracingOptions(o *options) tracingOptions {
	return tracingOptions{
		endpoint: o.add("otel-endpoint", envOTelEndpoint, "",
			"OpenTelemetry OTLP/HTTP collector URL to export traces to, such as http://localhost:4318 (default: tracing off)"),
		ratio: o.addNumber("otel-sample-ratio", envOTelSampleRatio, "1.0",
			"share of new traces sampled when tracing is on, between 0 and 1"),
	}
}

// resolve validates the tracing options: the endpoint ("" when tracing is
// off, else the full URL traces are posted to) and the sample ratio.
func (t tracingOptions) resolve() (string, float64, error) {
	ratio, err := strconv.ParseFloat(strings.TrimSpace(t.ratio.value), 64)
	if err != nil || !(ratio >= 0 && ratio <= 1) {
		return "", 0, t.ratio.errorf("must be a number between 0 and 1")
	}
	raw := strings.TrimSpace(t.endpoint.value)
	if raw == "" {
		return "", ratio, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		// Not t.endpoint.errorf: the value may hold credentials.
		return "", 0, fmt.Errorf("invalid %s: must be an http:// or https:// URL such as http://localhost:4318", t.endpoint.name())
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = otelTracesPath
	}
	return u.String(), ratio, nil
}

// setupTracing returns the tracer provider of the API and the function
// that flushes and stops it; with no endpoint, a nil provider (tracing
// off) and a no-op. It sets the global propagator to W3C Trace Context
// and routes OpenTelemetry's internal errors (failed exports) to log.
func setupTracing(ctx context.Context, endpoint string, ratio float64, log *slog.Logger) (trace.TracerProvider, func(context.Context) error, error) {
	if endpoint == "" {
		return nil, func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
		sdktrace.WithResource(resource.NewSchemaless(
			attribute.String("service.name", "promolift"),
			attribute.String("service.version", version),
		)),
	)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("opentelemetry", "err", err)
	}))
	var once sync.Once
	var shutErr error
	shutdown := func(ctx context.Context) error {
		once.Do(func() { shutErr = tp.Shutdown(ctx) })
		return shutErr
	}
	return tp, shutdown, nil
}

// describeOTelEndpoint names the endpoint in logs without credentials or
// query.
func describeOTelEndpoint(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Scheme + "://" + u.Host + u.Path
}
