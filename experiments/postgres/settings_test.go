package postgres

import "testing"

func TestWithDefaultSettings(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u@h/db?sslmode=disable", "postgres://u@h/db?jit=off&sslmode=disable"},
		{"postgres://u@h/db?jit=on", "postgres://u@h/db?jit=on"},
		{"host=h dbname=db", "host=h dbname=db jit=off"},
		{"host=h jit=on", "host=h jit=on"},
	} {
		if got := withDefaultSettings(tc.in); got != tc.want {
			t.Errorf("withDefaultSettings(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
