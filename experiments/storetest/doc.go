// Package storetest is the conformance suite every promolift store must
// pass: experiments, flags, API keys, the audit log, events with their
// rollups and sufficient statistics, concurrency and error kinds.
//
// A store's test calls Run with a function that returns a fresh, empty
// store for each subtest:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) experiments.Store { ... })
//	}
//
// Stores that also implement RollupMaintainer (RecomputeRollups and
// CheckRollups) have those methods tested too.
package storetest
