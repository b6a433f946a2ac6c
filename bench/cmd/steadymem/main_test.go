package main

import (
	"testing"
	"time"
)

// TestRunShort runs the whole measurement for a few seconds: the server,
// the load generator as a separate process, and the heap samples.
func TestRunShort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds promolift and loads a server for a few seconds")
	}
	if err := run(3*time.Second, time.Second, 2); err != nil {
		t.Fatal(err)
	}
}
