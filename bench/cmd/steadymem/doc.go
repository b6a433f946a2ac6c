// Command steadymem measures the memory of the real promolift server under
// steady load. It builds cmd/promolift, starts `promolift serve` on a fresh
// SQLite file (the serve default) with loopback ports and the opt-in pprof
// listener (--pprof-addr), runs `promolift loadgen` against it for
// -duration (plus 5 s, so that the sample at -duration is under load),
// and before the load, every -every up to -duration, and after the load
// fetches /debug/pprof/heap?gc=1 (a heap profile after a forced GC) and
// /debug/pprof/goroutine?debug=1. It sums the profile's inuse_space and
// inuse_objects (the server runs with GODEBUG=memprofilerate=4096 for a
// close estimate), and compares the last sample under load with the one
// at -baseline: the heap is flat if it grew by at most 10%.
//
// Run from the bench directory (perfdoc runs it as part of make bench):
//
//	go run ./cmd/steadymem -duration 5m -out steadymem.json
//
// -out writes the samples and the verdict as JSON; -profiles DIR keeps
// every heap profile for go tool pprof. steadymem exits 1 only when the
// measurement fails; whether the heap stayed flat is in its output.
package main
