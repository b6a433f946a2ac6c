// Command perfdoc runs the benchmarks of module bench and writes
// docs/performance.md: every figure next to its anchor measured in the same
// run, the ratio, and whether the target is met.
//
// Run it from the bench directory (make bench does):
//
//	go run ./cmd/perfdoc -out ../docs/performance.md
//
// The PostgreSQL benchmarks need PROMOLIFT_TEST_DATABASE_URL; without it
// they are skipped and the document says so.
package main
