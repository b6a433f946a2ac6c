package sqlstore

import (
	"context"
	"fmt"

	"github.com/promolift/promolift/experiments"
)

// OrderValues runs experiments.OrderValueStore.OrderValues in tx (one
// snapshot): a count of the orders per variant, then one query per rank,
// ORDER BY value LIMIT 1 OFFSET rank−1 (ties in value are
// interchangeable, so the order needs no tie-break).
func (d CohortDialect) OrderValues(ctx context.Context, tx Queryer, sq experiments.StatsQuery, metric string,
	ranks func(n int64) []int64) ([]experiments.VariantOrderValues, error) {
	analysed := `NOT r.multiple`
	if sq.MultipleExposure == experiments.MultipleFirst {
		analysed = d.True
	}
	// The attributed conversions c named metric of the analysed units r;
	// arguments: metric, experiment, experiment.
	from := `FROM exposures_rollup r
LEFT JOIN experiments xw ON xw.key = r.experiment
` + d.JoinEvents + ` events c ON c.type = 'conversion' AND c.unit_id = r.unit_id AND c.name = ` + d.TextParam + `
	AND c.ts >= r.first_exposed_at
	AND c.ts <= r.first_exposed_at + COALESCE(xw.attribution_window_us, ` + fmt.Sprint(defaultWindowUS) + `)` + d.Micros + `
	AND c.ts >= ` + d.firstExposure("MIN") + ` AND ` + CountsIn("c", "xw.environment") + `
WHERE r.experiment = ` + d.TextParam + ` AND ` + analysed
	args := []any{metric, sq.Experiment, sq.Experiment}
	var counts []struct {
		Variant string `db:"variant"`
		N       int64  `db:"n"`
	}
	if err := tx.SelectContext(ctx, &counts, `SELECT r.first_variant AS variant, COUNT(*) AS n `+from+`
GROUP BY r.first_variant ORDER BY r.first_variant`, args...); err != nil {
		return nil, err
	}
	at := `SELECT v FROM (SELECT CAST(` + d.Revenue("") + ` AS ` + d.Float + `) AS v ` + from + ` AND r.first_variant = ` + d.TextParam + `) o
ORDER BY v LIMIT 1 OFFSET ` + d.IntParam
	out := make([]experiments.VariantOrderValues, 0, len(counts))
	for _, c := range counts {
		vo := experiments.VariantOrderValues{Variant: c.Variant, N: c.N, Ranks: ranks(c.N)}
		for _, k := range vo.Ranks {
			if k < 1 || k > c.N {
				return nil, fmt.Errorf("order value rank %d outside [1, %d]", k, c.N)
			}
			var v float64
			if err := tx.GetContext(ctx, &v, at, append(append([]any{}, args...), c.Variant, k-1)...); err != nil {
				return nil, err
			}
			vo.Values = append(vo.Values, v)
		}
		out = append(out, vo)
	}
	return out, nil
}
