package experiments

import "context"

// reportConcurrency bounds the store queries one report runs at once. The
// queries of a report (the overall statistics, one per breakdown
// dimension, the cohorts, the daily series) are independent reads, each in
// its own snapshot, so running them side by side changes no result and
// lets the database use more than one CPU for a report.
const reportConcurrency = 4

// fetcher runs store reads concurrently, at most reportConcurrency at a
// time, under one context that the report cancels when it returns.
type fetcher struct {
	ctx context.Context
	sem chan struct{}
}

func newFetcher(ctx context.Context) *fetcher {
	return &fetcher{ctx: ctx, sem: make(chan struct{}, reportConcurrency)}
}

// fetch starts read in a goroutine and returns a function that waits for
// its result (and may be called any number of times).
func fetch[T any](f *fetcher, read func(ctx context.Context) (T, error)) func() (T, error) {
	done := make(chan struct{})
	var v T
	var err error
	go func() {
		defer close(done)
		select {
		case f.sem <- struct{}{}:
		case <-f.ctx.Done():
			err = f.ctx.Err()
			return
		}
		defer func() { <-f.sem }()
		v, err = read(f.ctx)
	}()
	return func() (T, error) {
		<-done
		return v, err
	}
}
