package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// newTracedEnv returns an API traced into an in-memory span recorder.
func newTracedEnv(t *testing.T) (*env, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	return newEnv(t, Config{TracerProvider: tp}), rec
}

func spanAttrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestTracingSpans(t *testing.T) {
	e, rec := newTracedEnv(t)
	const customer = "cust-secret-4711"
	wantStatus(t, e.do("PUT", "/api/v1/customers/"+customer+"/consent", e.sdk, map[string]any{"promotions": false}), http.StatusOK)
	req := httptest.NewRequest("GET", "/api/v1/experiments/no-such-experiment?customer="+customer, nil)
	req.Header.Set("Authorization", "Bearer "+e.admin)
	req.Header.Set("X-Request-ID", "req-trace-1")
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	wantStatus(t, w, http.StatusNotFound)
	wantStatus(t, e.do("GET", "/no/such/route", "", nil), http.StatusNotFound)

	spans := rec.Ended()
	if len(spans) != 3 {
		t.Fatalf("got %d spans, want 3", len(spans))
	}
	want := []struct {
		name, method, route, requestID string
		status                         int64
	}{
		{"PUT /api/v1/customers/:id/consent", "PUT", "/api/v1/customers/:id/consent", "", 200},
		{"GET /api/v1/experiments/:key", "GET", "/api/v1/experiments/:key", "req-trace-1", 404},
		{"GET unmatched", "GET", "unmatched", "", 404},
	}
	for i, s := range spans {
		w := want[i]
		if s.Name() != w.name {
			t.Errorf("span %d: name %q, want %q", i, s.Name(), w.name)
		}
		if s.SpanKind() != trace.SpanKindServer {
			t.Errorf("span %d: kind %v, want server", i, s.SpanKind())
		}
		a := spanAttrs(s)
		if got := a["http.request.method"].AsString(); got != w.method {
			t.Errorf("span %d: http.request.method %q, want %q", i, got, w.method)
		}
		if got := a["http.route"].AsString(); got != w.route {
			t.Errorf("span %d: http.route %q, want %q", i, got, w.route)
		}
		if got := a["http.response.status_code"].AsInt64(); got != w.status {
			t.Errorf("span %d: http.response.status_code %d, want %d", i, got, w.status)
		}
		rid := a[attrRequestID].AsString()
		if rid == "" || (w.requestID != "" && rid != w.requestID) {
			t.Errorf("span %d: request id %q, want %q", i, rid, w.requestID)
		}
		if len(a) != 4 {
			t.Errorf("span %d: attributes %v, want exactly 4", i, s.Attributes())
		}
		// No secret, customer id or raw path anywhere in the span.
		text := s.Name()
		for _, kv := range s.Attributes() {
			text += " " + string(kv.Key) + "=" + kv.Value.String()
		}
		for _, secret := range []string{e.sdk, e.admin, customer, "Bearer", "no-such-experiment", "/no/such/route"} {
			if strings.Contains(text, secret) {
				t.Errorf("span %d leaks %q: %s", i, secret, text)
			}
		}
	}
}

func TestTracingOff(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	old := otel.GetTracerProvider()
	otel.SetTracerProvider(tp) // even a global provider must not be used
	t.Cleanup(func() { otel.SetTracerProvider(old) })

	off := newEnv(t, Config{})
	wantStatus(t, off.do("GET", "/api/v1/experiments", off.admin, nil), http.StatusOK)
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("tracing off: got %d spans, want none", n)
	}
	on, _ := newTracedEnv(t)
	nOff, nOn := len(off.h.(rawPathRouter).Engine().Handlers), len(on.h.(rawPathRouter).Engine().Handlers)
	if nOn != nOff+1 {
		t.Fatalf("global middleware: %d with tracing, %d without; want exactly one more", nOn, nOff)
	}
	if newTracing(nil) != nil {
		t.Fatal("newTracing(nil) returned a middleware")
	}
}

func TestTracingContinuesTraceparent(t *testing.T) {
	old := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTextMapPropagator(old) })
	e, rec := newTracedEnv(t)

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	wantStatus(t, w, http.StatusOK)

	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("got %d spans, want 1", len(spans))
	}
	s := spans[0]
	if got := s.SpanContext().TraceID().String(); got != traceID {
		t.Errorf("trace id %s, want %s", got, traceID)
	}
	if got := s.Parent().SpanID().String(); got != parentID || !s.Parent().IsRemote() {
		t.Errorf("parent %s (remote %v), want remote %s", got, s.Parent().IsRemote(), parentID)
	}
	if s.SpanContext().SpanID().String() == parentID {
		t.Error("the span reuses the parent's span id")
	}
}
