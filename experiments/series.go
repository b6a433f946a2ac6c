package experiments

import (
	"context"
	"time"
)

// SeriesStore is an optional store capability: the statistics of the
// report's daily series in one pass over the experiment's rollups and
// conversions, instead of one recomputation from the raw events per day.
//
// SeriesStats returns, for each cut-off of cuts (ascending; all but the
// last a midnight UTC), what SufficientStats returns for q with Until set
// to it (q.Dimension and q.PrePeriod are ignored), except Exposures, which
// are left 0: the series shows the lift of the primary metric, which the
// exposure counts do not enter. A unit counts at cut-off t when its first
// exposure is before t; it is multiple-exposed at t when it was exposed to
// another variant before t; a conversion counts when it is attributed to
// the unit (within the attribution window of its first exposure) and
// before t. Both stores (sqlite, postgres) implement it; with another
// store the series is read per day with SufficientStats.
type SeriesStore interface {
	SeriesStats(ctx context.Context, q StatsQuery, cuts []time.Time) ([]*SufficientStats, error)
}

// SeriesCutsValid reports whether cuts fit SeriesStats: ascending, and
// every one but the last a midnight UTC.
func SeriesCutsValid(cuts []time.Time) bool {
	for i, c := range cuts {
		if i > 0 && !c.After(cuts[i-1]) {
			return false
		}
		if i < len(cuts)-1 && !c.UTC().Truncate(24*time.Hour).Equal(c) {
			return false
		}
	}
	return true
}
