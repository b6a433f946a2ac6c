package experiments

import (
	"context"
	"fmt"
	"sync/atomic"
)

// EventsMarker is an optional store capability: a cheap value (one index
// probe or less) that changes whenever events are stored, for any
// experiment. Report snapshots (package reportsnap) compare it to tell
// whether a snapshot may be stale. A store may change it more often (on
// other writes too), never less.
type EventsMarker interface {
	EventsMarker(ctx context.Context) (string, error)
}

// EventsMarker returns the store's events marker (EventsMarker); with a
// store that has none, a value that changes on every call, so that callers
// take every snapshot for stale.
func (s *Service) EventsMarker(ctx context.Context) (string, error) {
	if m, ok := s.store.(EventsMarker); ok {
		v, err := m.EventsMarker(ctx)
		if err != nil {
			return "", fmt.Errorf("events marker: %w", err)
		}
		return v, nil
	}
	return fmt.Sprint(markerCalls.Add(1)), nil
}

// markerCalls makes the fallback marker of EventsMarker unique.
var markerCalls atomic.Uint64
