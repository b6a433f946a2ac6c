package experiments_test

import (
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

func TestAPIKeyToken(t *testing.T) {
	k, token, err := experiments.NewAPIKey("ci", experiments.ScopeSDK, "staging", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	id, secret, ok := experiments.SplitToken(token)
	if !ok || id != k.ID {
		t.Fatalf("SplitToken(%q) = %q, %v; want id %q", token, id, ok, k.ID)
	}
	if !k.Matches(secret) {
		t.Error("the key does not match its own secret")
	}
	if k.Matches(secret+"x") || k.Matches("") {
		t.Error("the key matches a wrong secret")
	}
	if strings.Contains(string(k.Hash), secret) {
		t.Error("the stored hash contains the secret")
	}
	k2, token2, _ := experiments.NewAPIKey("ci", experiments.ScopeSDK, "", time.Now())
	if token2 == token || string(k2.Salt) == string(k.Salt) {
		t.Error("two keys share a token or a salt")
	}
}

func TestAPIKeyFromToken(t *testing.T) {
	for _, tc := range []struct {
		token string
		ok    bool
	}{
		{"pl_admin0000_quickstart-secret-key", true},
		{"short", false},
		{"pl_a_0123456789abcdef0123", false},
		{"nope_admin0000_quickstart-secret-key", false},
	} {
		t.Run(tc.token, func(t *testing.T) {
			k, err := experiments.APIKeyFromToken(tc.token, "admin", experiments.ScopeAdmin, time.Now())
			if (err == nil) != tc.ok {
				t.Fatalf("APIKeyFromToken(%q) error = %v, want ok=%v", tc.token, err, tc.ok)
			}
			if tc.ok {
				_, secret, _ := experiments.SplitToken(tc.token)
				if !k.Matches(secret) {
					t.Error("key does not match the token's secret")
				}
			}
		})
	}
}

func TestScopeAllows(t *testing.T) {
	if !experiments.ScopeAdmin.Allows(experiments.ScopeAnalyst) || !experiments.ScopeSDK.Allows(experiments.ScopeSDK) {
		t.Error("admin must allow analyst, sdk must allow sdk")
	}
	if experiments.ScopeAnalyst.Allows(experiments.ScopeSDK) || experiments.ScopeSDK.Allows(experiments.ScopeAdmin) {
		t.Error("analyst must not allow sdk; sdk must not allow admin")
	}
}
