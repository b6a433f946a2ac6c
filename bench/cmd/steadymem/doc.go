// Command steadymem measures the memory of the promolift API under steady
// load: it serves the API in this process (SQLite store in a temporary
// directory, as `promolift serve` does by default), runs `promolift loadgen`
// against it as a separate process, and samples the heap (after a GC) every
// -every. Run from the bench directory:
//
//	go run ./cmd/steadymem -duration 5m
package main
