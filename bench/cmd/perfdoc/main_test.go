package main

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	out := `goos: linux
BenchmarkHashV2-2              	23905472	        50.10 ns/op	       0 B/op	       0 allocs/op
BenchmarkAssignHTTP/impl=bare-gin-2   	   10000	    102345 ns/op	  9770.5 req/s
PASS
BenchmarkBroken-2  notanumber
`
	res := results{}
	parse(strings.NewReader(out), res)
	if len(res) != 2 {
		t.Fatalf("parsed %d benchmarks, want 2: %v", len(res), res)
	}
	if got := res["BenchmarkHashV2"]; got["ns/op"] != 50.10 || got["B/op"] != 0 || got["allocs/op"] != 0 {
		t.Errorf("BenchmarkHashV2 = %v", got)
	}
	if got := res["BenchmarkAssignHTTP/impl=bare-gin"]["req/s"]; got != 9770.5 {
		t.Errorf("req/s = %v, want 9770.5 (the -GOMAXPROCS suffix must be cut)", got)
	}
}

func TestTargets(t *testing.T) {
	for _, tc := range []struct {
		check func(float64) (bool, string)
		v     float64
		ok    bool
	}{
		{atLeast(0.5), 0.7, true},
		{atLeast(0.5), 0.31, false},
		{atMost(3), 2.6, true},
		{atMost(3), 3.2, false},
	} {
		if ok, why := tc.check(tc.v); ok != tc.ok || why == "" {
			t.Errorf("check(%v) = %v, %q; want %v with a reason", tc.v, ok, why, tc.ok)
		}
	}
	if got := thousands(1000000); got != "1,000,000" {
		t.Errorf("thousands(1000000) = %q", got)
	}
}
