package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/promolift/promolift/stats/policy"
)

// TestPolicyCommand: `promolift policy` prints policy.Learn of its input
// (the check-value cases of stats/policy) and names every bad field.
func TestPolicyCommand(t *testing.T) {
	data, err := os.ReadFile("../../stats/policy/testdata/checks.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := runPolicy(context.Background(), []string{"--compact"}, bytes.NewReader(tc.Input), &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			in, err := policy.DecodeInput(bytes.NewReader(tc.Input))
			if err != nil {
				t.Fatal(err)
			}
			want, _ := policy.Learn(in)
			b, _ := json.Marshal(want)
			if strings.TrimSpace(stdout.String()) != string(b) {
				t.Errorf("output differs from policy.Learn")
			}
		})
	}
	t.Run("bad input", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		in := `{"arms": [{"key": "c", "weight": 0}], "folds": 1, "features": ["a", "a"]}`
		if code := runPolicy(context.Background(), nil, strings.NewReader(in), &stdout, &stderr); code != 2 {
			t.Fatalf("exit %d, want 2", code)
		}
		for _, f := range []string{"arms:", "arms[0].weight", "folds", "features[1]"} {
			if !strings.Contains(stderr.String(), f) {
				t.Errorf("stderr %q does not name %s", stderr.String(), f)
			}
		}
		stderr.Reset()
		if code := runPolicy(context.Background(), nil, strings.NewReader(`{"folds": "x"}`), &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "folds") {
			t.Errorf("exit %d: %s", code, stderr.String())
		}
	})
}
