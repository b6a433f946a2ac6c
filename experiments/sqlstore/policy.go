package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/promolift/promolift/experiments"
)

// PolicyStats reads the statistics of policy learning (experiments.
// PolicyStore) in q, a read transaction: one row per analysed unit of
// pq.Experiment (its variant, exposures, feature values and the revenue
// and cost of its counted conversions of pq.Metric), folded here into
// per-(cell, variant, fold) sums, because the fold is a hash of the unit ID
// that both databases cannot compute alike. Memory is per cell, not per
// unit: the rows are streamed.
func (d CohortDialect) PolicyStats(ctx context.Context, q RowsQueryer, pq experiments.PolicyQuery) ([]experiments.PolicyCell, error) {
	if pq.Folds < 1 {
		return nil, fmt.Errorf("policy stats: folds must be positive")
	}
	analysed := `NOT multiple`
	if pq.MultipleExposure == experiments.MultipleFirst {
		analysed = d.True
	}
	var feats []string
	var args []any
	for _, f := range pq.Features {
		if f == experiments.DimensionChannel {
			feats = append(feats, `COALESCE(NULLIF(u.channel, ''), '`+experiments.NoSlice+`')`)
			continue
		}
		// AttributeValue reads the column attributes: u's alone has it.
		feats = append(feats, `COALESCE(NULLIF(`+d.AttributeValue+`, ''), '`+experiments.NoSlice+`')`)
		args = append(args, f)
	}
	sel := ""
	for i, f := range feats {
		sel += fmt.Sprintf(", %s AS f%d", f, i)
	}
	var conv string
	var convArgs []any
	if pq.Horizon <= 0 {
		conv = `SELECT unit_id, conversions, revenue, cost FROM unit_metrics WHERE experiment = ` + d.TextParam + ` AND metric = ` + d.TextParam
		convArgs = []any{pq.Experiment, pq.Metric}
	} else {
		window := `COALESCE(xw.attribution_window_us, ` + fmt.Sprint(defaultWindowUS) + `)` + d.Micros
		conv = `SELECT r.unit_id, COUNT(*) AS conversions, SUM(` + d.Revenue("") + `) AS revenue,
	SUM(CASE WHEN c.ts <= r.first_exposed_at + ` + window + ` THEN ` + d.Cost("") + ` ELSE COALESCE(c.promotion_cost, 0) END) AS cost
FROM exposures_rollup r
LEFT JOIN experiments xw ON xw.key = r.experiment` + CostJoin + `
` + d.JoinEvents + ` events c ON c.type = 'conversion' AND c.unit_id = r.unit_id AND c.name = ` + d.TextParam + `
	AND c.ts >= r.first_exposed_at AND c.ts <= r.first_exposed_at + CAST(? AS BIGINT)` + d.Micros + `
	AND ` + CountsIn("c", "xw.environment") + `
WHERE r.experiment = ` + d.TextParam + `
GROUP BY r.unit_id`
		convArgs = []any{pq.Metric, pq.Horizon.Microseconds(), pq.Experiment}
	}
	query := `SELECT u.unit_id, u.first_variant, u.exposures` + sel + `,
	COALESCE(m.conversions, 0) AS conversions, COALESCE(m.revenue, 0) AS revenue, COALESCE(m.cost, 0) AS cost
FROM (SELECT unit_id, first_variant, exposures, attributes, channel FROM exposures_rollup
	WHERE experiment = ` + d.TextParam + ` AND ` + analysed + `) u
LEFT JOIN (` + conv + `) m ON m.unit_id = u.unit_id`
	all := append(append(append([]any{}, args...), pq.Experiment), convArgs...)
	rows, err := q.QueryContext(ctx, query, all...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type key struct {
		seg     string
		variant string
		fold    int
	}
	cells := map[key]*experiments.PolicyCell{}
	var order []key
	vals := make([]sql.NullString, len(feats))
	var unit, variant string
	var exposures int64
	var conversions, revenue, cost float64
	dest := []any{&unit, &variant, &exposures}
	for i := range vals {
		dest = append(dest, &vals[i])
	}
	dest = append(dest, &conversions, &revenue, &cost)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		seg := make([]string, len(vals))
		for i, v := range vals {
			seg[i] = v.String
		}
		k := key{strings.Join(seg, "\x00"), variant, experiments.PolicyFold(unit, pq.Folds)}
		c := cells[k]
		if c == nil {
			c = &experiments.PolicyCell{Segment: seg, Variant: variant, Fold: k.fold}
			cells[k] = c
			order = append(order, k)
		}
		cost += float64(pq.ExposureCosts[variant] * exposures)
		net := revenue - cost
		c.Units++
		if conversions > 0 {
			c.Converted++
		}
		c.Revenue += revenue
		c.RevenueSquares += revenue * revenue
		c.Net += net
		c.NetSquares += net * net
		c.Cost += cost
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]experiments.PolicyCell, 0, len(order))
	for _, k := range order {
		out = append(out, *cells[k])
	}
	SortPolicyCells(out)
	return out, nil
}

// SortPolicyCells orders cells by segment, variant and fold.
func SortPolicyCells(cs []experiments.PolicyCell) {
	less := func(a, b experiments.PolicyCell) int {
		for i := range a.Segment {
			if c := strings.Compare(a.Segment[i], b.Segment[i]); c != 0 {
				return c
			}
		}
		if c := strings.Compare(a.Variant, b.Variant); c != 0 {
			return c
		}
		return a.Fold - b.Fold
	}
	slices.SortFunc(cs, less)
}
