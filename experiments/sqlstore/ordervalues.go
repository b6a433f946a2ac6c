package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/promolift/promolift/experiments"
)

// OrderValues runs experiments.OrderValueStore.OrderValues in tx (one
// snapshot): a count of the orders per variant, then one query that ranks
// each variant's order values (ROW_NUMBER over the value; ties in value are
// interchangeable, so the order needs no tie-break) and keeps the ranks
// asked for.
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
	out := make([]experiments.VariantOrderValues, 0, len(counts))
	var want []any // the ranks of any variant, each once
	seen := map[int64]bool{}
	for _, c := range counts {
		vo := experiments.VariantOrderValues{Variant: c.Variant, N: c.N, Ranks: ranks(c.N)}
		for _, k := range vo.Ranks {
			if k < 1 || k > c.N {
				return nil, fmt.Errorf("order value rank %d outside [1, %d]", k, c.N)
			}
			if !seen[k] {
				seen[k] = true
				want = append(want, k)
			}
		}
		out = append(out, vo)
	}
	if len(want) == 0 {
		return out, nil
	}
	// One sort of each variant's order values instead of one per rank.
	in := strings.TrimSuffix(strings.Repeat(d.IntParam+`, `, len(want)), `, `)
	var rows []struct {
		Variant string  `db:"variant"`
		Rank    int64   `db:"rank"`
		V       float64 `db:"v"`
	}
	if err := tx.SelectContext(ctx, &rows, `SELECT variant, rn AS rank, v FROM (
	SELECT variant, v, ROW_NUMBER() OVER (PARTITION BY variant ORDER BY v) AS rn FROM (
		SELECT r.first_variant AS variant, CAST(`+d.Revenue("")+` AS `+d.Float+`) AS v `+from+`
	) o
) x WHERE rn IN (`+in+`)`, append(args, want...)...); err != nil {
		return nil, err
	}
	type key struct {
		variant string
		rank    int64
	}
	at := make(map[key]float64, len(rows))
	for _, r := range rows {
		at[key{r.Variant, r.Rank}] = r.V
	}
	for i := range out {
		for _, k := range out[i].Ranks {
			out[i].Values = append(out[i].Values, at[key{out[i].Variant, k}])
		}
	}
	return out, nil
}
