package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// nodeCase is one evaluation the Node script performs; nodeResult is what
// the OpenFeature SDK reported.
type nodeCase struct {
	Flag    string         `json:"flag"`
	Type    string         `json:"type"`
	Default any            `json:"default"`
	Context map[string]any `json:"context"`
}

type nodeResult struct {
	Flag         string `json:"flag"`
	TargetingKey string `json:"targetingKey"`
	Value        any    `json:"value"`
	Variant      string `json:"variant"`
	Reason       string `json:"reason"`
	ErrorCode    string `json:"errorCode"`
}

// requireTool finds a program, skipping the test without it unless CI
// (PROMOLIFT_REQUIRE_POSTGRES=1) demands the full suite.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("PROMOLIFT_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("%s is required (PROMOLIFT_REQUIRE_POSTGRES=1): %v", name, err)
		}
		t.Skipf("%s not found: %v", name, err)
	}
	return p
}

// TestOFREPNodeProvider runs the official OpenFeature OFREP provider for
// Node (testdata/ofrep-node, pinned by its package-lock.json) against the
// API and checks that it sees what /api/v1/assign assigns.
func TestOFREPNodeProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("runs node")
	}
	e := newSDKEnv(t)
	e.seed(t)
	const units = 8
	type expect struct {
		value            any
		variant, reason  string
		errorCode        string
		viaAssignVariant bool // the variant must equal /assign's
	}
	var cases []nodeCase
	var want []expect
	for i := range units {
		id := fmt.Sprintf("u%d", i)
		tier := "silver"
		if i%2 == 1 {
			tier = "gold"
		}
		// The experiment read as a string flag.
		cases = append(cases, nodeCase{Flag: "spring-sale", Type: "string", Default: "fallback",
			Context: map[string]any{"targetingKey": id}})
		want = append(want, expect{reason: "SPLIT", viaAssignVariant: true})
		// A promotion gate with a targeting rule.
		cases = append(cases, nodeCase{Flag: "spring-sale-gate", Type: "boolean", Default: false,
			Context: map[string]any{"targetingKey": id, "tier": tier}})
		if tier == "gold" {
			want = append(want, expect{value: true, variant: "on", reason: "TARGETING_MATCH"})
		} else {
			want = append(want, expect{value: false, variant: "off", reason: "DEFAULT"})
		}
	}
	cases = append(cases,
		nodeCase{Flag: "static-flag", Type: "boolean", Default: false, Context: map[string]any{"targetingKey": "u1"}},
		nodeCase{Flag: "off-flag", Type: "boolean", Default: true, Context: map[string]any{"targetingKey": "u1"}},
		nodeCase{Flag: "paused-sale", Type: "string", Default: "fallback", Context: map[string]any{"targetingKey": "u1"}},
		nodeCase{Flag: "kr-sale", Type: "string", Default: "fallback", Context: map[string]any{"targetingKey": "u1", "country": "JP"}},
		nodeCase{Flag: "no-such-flag", Type: "boolean", Default: true, Context: map[string]any{"targetingKey": "u1"}},
		nodeCase{Flag: "spring-sale", Type: "string", Default: "fallback", Context: map[string]any{"country": "KR"}},
	)
	want = append(want,
		expect{value: true, variant: "on", reason: "STATIC"},
		expect{value: false, variant: "off", reason: "DISABLED"},
		expect{value: "control", variant: "control", reason: "DISABLED"},
		expect{value: "control", variant: "control", reason: "DEFAULT"},
		expect{value: true, reason: "ERROR", errorCode: "FLAG_NOT_FOUND"},
		expect{value: "fallback", reason: "ERROR", errorCode: "TARGETING_KEY_MISSING"},
	)

	got := runNodeOFREP(t, e.srv.URL, e.sdk, cases)
	exposedBefore := e.exposures(t, "spring-sale")
	for i, g := range got {
		w := want[i]
		c := cases[i]
		if w.viaAssignVariant {
			resp, body := e.do(t, "POST", "/api/v1/assign", e.sdk, map[string]any{
				"unit_id": c.Context["targetingKey"], "experiments": []string{c.Flag}})
			var out AssignResponse
			if resp.StatusCode != 200 || json.Unmarshal(body, &out) != nil || len(out.Assignments) != 1 {
				t.Fatalf("/assign: %d %s", resp.StatusCode, body)
			}
			a := out.Assignments[0]
			w.value, w.variant = a.Variant, a.Variant
			if !a.InExperiment {
				w.reason = "DEFAULT"
			}
		}
		if g.Flag != c.Flag || fmt.Sprint(g.Value) != fmt.Sprint(w.value) || g.Variant != w.variant ||
			g.Reason != w.reason || g.ErrorCode != w.errorCode {
			t.Errorf("case %d %s %v:\n node %+v\n want value %v variant %q reason %s errorCode %q",
				i, c.Flag, c.Context, g, w.value, w.variant, w.reason, w.errorCode)
		}
	}
	// The OFREP evaluations logged the exposures: /assign added none.
	if after := e.exposures(t, "spring-sale"); after != exposedBefore || after == 0 {
		t.Errorf("spring-sale exposures: %d after the OFREP run, %d after /assign; want equal and non-zero", exposedBefore, after)
	}
	t.Logf("node OFREP provider: %d evaluations matched", len(got))
}

// runNodeOFREP evaluates cases with the official OpenFeature OFREP provider
// for Node (testdata/ofrep-node/evaluate.mjs) against the server at url
// with the sdk key, and returns one result per case. It skips the test
// when node or the npm packages are unavailable (unless CI demands them).
func runNodeOFREP(t *testing.T, url, key string, cases []nodeCase) []nodeResult {
	t.Helper()
	node := requireTool(t, "node")
	dir := filepath.Join("testdata", "ofrep-node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@openfeature", "ofrep-provider")); err != nil {
		npm := requireTool(t, "npm")
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			if os.Getenv("PROMOLIFT_REQUIRE_POSTGRES") == "1" {
				t.Fatalf("npm ci: %v\n%s", err, out)
			}
			t.Skipf("npm ci failed (offline?): %v\n%s", err, out)
		}
	}
	casesJSON, _ := json.Marshal(cases)
	cmd := exec.Command(node, "evaluate.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OFREP_URL="+url, "OFREP_KEY="+key, "OFREP_CASES="+string(casesJSON))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("node evaluate.mjs: %v\n%s", err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatal("node evaluate.mjs did not finish within 60 s")
	}
	var got []nodeResult
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil || len(got) != len(cases) {
		t.Fatalf("node output (%v): %s\n%s", err, stdout.String(), stderr.String())
	}
	return got
}
