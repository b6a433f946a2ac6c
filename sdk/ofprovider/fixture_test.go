package ofprovider

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"sync"
	"testing"

	"github.com/promolift/promolift/assign"
)

var update = flag.Bool("update", false, "rewrite testdata/evaluation_v2_spec.json from test-flags.json")

// flagdFlag is one flag of the OpenFeature test-flags.json.
type flagdFlag struct {
	Disabled         bool                       `json:"disabled"`
	Variants         map[string]json.RawMessage `json:"variants"`
	DefaultVariant   *string                    `json:"defaultVariant"`
	FlagMetadata     map[string]any             `json:"flagMetadata"`
	ContextEvaluator string                     `json:"contextEvaluator"`
}

// celToCondition maps the CEL targeting expressions of test-flags.json to
// our condition language and the variant the expression selects.
var celToCondition = map[string]struct {
	condition string
	variant   string
}{
	"email == 'ballmer@macrosoft.com' ? 'zero' : ''": {
		`{"email":"ballmer@macrosoft.com"}`, "zero"},
	"!customer && email == 'ballmer@macrosoft.com' && age > 10 ? 'internal' : ''": {
		`{"$and":[{"customer":false},{"email":"ballmer@macrosoft.com"},{"age":{"$gt":10}}]}`, "internal"},
}

// translateFlags turns test-flags.json into our SDK config (an assign.Spec
// document with the promolift flag fields).
func translateFlags(data []byte) ([]byte, error) {
	var in map[string]flagdFlag
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	features := make(map[string]assign.Feature, len(in))
	for _, k := range keys {
		f := in[k]
		var out assign.Feature
		out.Variants = f.Variants
		if f.DefaultVariant != nil {
			out.DefaultVariant = *f.DefaultVariant
			out.DefaultValue = f.Variants[*f.DefaultVariant]
		}
		if f.Disabled {
			off := false
			out.Enabled = &off
		}
		if f.FlagMetadata != nil {
			md, err := json.Marshal(f.FlagMetadata)
			if err != nil {
				return nil, fmt.Errorf("flag %s: metadata: %w", k, err)
			}
			out.Metadata = md
		}
		if f.ContextEvaluator != "" {
			c, ok := celToCondition[f.ContextEvaluator]
			if !ok {
				return nil, fmt.Errorf("flag %s: no translation for CEL %q", k, f.ContextEvaluator)
			}
			out.Rules = append(out.Rules, assign.Rule{ID: "targeting", Condition: json.RawMessage(c.condition),
				Force: f.Variants[c.variant], Variant: c.variant})
		}
		features[k] = out
	}
	b, err := json.MarshalIndent(map[string]any{"version": "evaluation_v2", "features": features}, "", "  ")
	if err != nil {
		return nil, err
	}
	if _, err := assign.DecodeSpec(b); err != nil {
		return nil, fmt.Errorf("translated spec invalid: %w", err)
	}
	return append(b, '\n'), nil
}

const (
	sharedFlags = "testdata/openfeature-spec/gherkin/test-flags.json"
	specGolden  = "testdata/evaluation_v2_spec.json"
)

// TestTranslateFlags keeps testdata/evaluation_v2_spec.json equal to the
// translation of test-flags.json.
func TestTranslateFlags(t *testing.T) {
	src, err := os.ReadFile(sharedFlags)
	if err != nil {
		requireShared(t, err)
		return
	}
	got, err := translateFlags(src)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(specGolden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(specGolden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date: run go test -run TestTranslateFlags -update", specGolden)
	}
}

// requireShared fails the test: the OpenFeature suites live in the
// repository (testdata/openfeature-spec), so missing data is a defect.
func requireShared(t *testing.T, err error) {
	t.Helper()
	t.Fatalf("OpenFeature conformance data missing (see testdata/openfeature-spec/README.md): %v", err)
}

// configServer serves a config at /api/v1/sdk/config (with ETag and 304)
// and accepts events, standing in for promolift.
type configServer struct {
	*httptest.Server
	mu     sync.Mutex
	config []byte
	etag   int
	status int // answer config requests with this status when non-zero
	block  chan struct{}
	events []map[string]any
}

func newConfigServer(t testing.TB, config []byte) *configServer {
	s := &configServer{config: config, etag: 1}
	s.Server = httptest.NewServer(s)
	t.Cleanup(func() {
		s.mu.Lock()
		if s.block != nil {
			close(s.block)
			s.block = nil
		}
		s.mu.Unlock()
		s.Close()
	})
	return s
}

func (s *configServer) setConfig(config []byte) {
	s.mu.Lock()
	s.config = config
	s.etag++
	s.mu.Unlock()
}

func (s *configServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	status, block, config, etag := s.status, s.block, s.config, fmt.Sprintf(`"%d"`, s.etag)
	s.mu.Unlock()
	switch r.URL.Path {
	case "/api/v1/sdk/config":
		if block != nil {
			select {
			case <-block:
			case <-r.Context().Done():
			}
			return
		}
		if status != 0 {
			http.Error(w, http.StatusText(status), status)
			return
		}
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		_, _ = w.Write(config)
	case "/api/v1/events":
		var req struct {
			Events []map[string]any `json:"events"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		s.mu.Lock()
		s.events = append(s.events, req.Events...)
		s.mu.Unlock()
		_, _ = w.Write([]byte(`{"results":[]}`))
	default:
		http.NotFound(w, r)
	}
}
