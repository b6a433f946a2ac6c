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
//
// After the benchmarks (never during them) it runs cmd/steadymem for
// -mem-duration (5 minutes; 0 skips it), which loads a real promolift
// serve and samples its heap profile, and writes the memory section from
// those samples. It logs how long each stage took.
package main
