package experiments

import (
	"context"
	"fmt"
	"time"
)

// RetentionStore is implemented by stores that drop old raw events
// (PostgreSQL's monthly partitions). Events before the horizon can no
// longer be stored exactly once: the ids of the dropped months are gone.
type RetentionStore interface {
	// RetentionHorizon is the time before which raw events were dropped;
	// zero when none were.
	RetentionHorizon(ctx context.Context) (time.Time, error)
}

// retentionCacheTTL is how long IngestEvents trusts the horizon it read.
// A horizon raised meanwhile on another replica is still enforced by the
// store, which then answers those events as duplicates.
const retentionCacheTTL = 5 * time.Second

// retentionHorizon returns the store's retention horizon (zero when the
// store keeps every event), cached for retentionCacheTTL.
func (s *Service) retentionHorizon(ctx context.Context) (time.Time, error) {
	rs, ok := s.store.(RetentionStore)
	if !ok {
		return time.Time{}, nil
	}
	h, gen, hit := s.horizon.get("")
	if hit {
		return h, nil
	}
	h, err := rs.RetentionHorizon(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("read retention horizon: %w", err)
	}
	s.horizon.put("", h, gen)
	return h, nil
}

// tooOld is the rejection of an event from before the retention horizon.
func tooOld(horizon time.Time) *Error {
	return Invalid("timestamp", "too_old", "is before %s: raw events before then were dropped by retention",
		horizon.UTC().Format(time.RFC3339))
}
