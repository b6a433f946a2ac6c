package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// TestConcurrentIngestOnNewStore runs twice as many batches at once as the
// pool has connections, on a store whose ingest statements are not
// prepared yet: each batch's transaction prepares them on another
// connection of the pool, which it must get (a deadlock until the
// context's end before Store bounded the ingest transactions).
func TestConcurrentIngestOnNewStore(t *testing.T) {
	s := open(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := []experiments.Event{{ID: fmt.Sprint("c", g), Type: experiments.EventConversion, UnitID: fmt.Sprint("u", g),
				Name: "purchase", Revenue: 100, Currency: "EUR", Timestamp: time.Now()}}
			if _, err := s.IngestEvents(ctx, ev); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
