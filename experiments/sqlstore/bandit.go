package sqlstore

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/promolift/promolift/experiments"
)

// The weight history and per-period statistics of bandit experiments
// (experiments.BanditStore).

type banditWeightJSON struct {
	Variant  string  `json:"variant"`
	Weight   float64 `json:"weight"`
	ProbBest float64 `json:"prob_best"`
}

type banditPeriodRow struct {
	Experiment   string  `db:"experiment"`
	Period       int     `db:"period"`
	StartsAt     Time    `db:"starts_at"`
	Weights      string  `db:"weights"`
	Units        int64   `db:"units"`
	Spend        float64 `db:"spend"`
	PacingTarget float64 `db:"pacing_target"`
	PacingFactor float64 `db:"pacing_factor"`
	CreatedAt    Time    `db:"created_at"`
}

const banditPeriodColumns = `experiment, period, starts_at, weights, units, spend, pacing_target, pacing_factor, created_at`

// InsertBanditPeriod implements experiments.BanditStore: the row is
// written once per (experiment, period); a second writer's row is ignored.
func (s *Store) InsertBanditPeriod(ctx context.Context, p *experiments.BanditPeriod) (bool, error) {
	ws := make([]banditWeightJSON, len(p.Weights))
	for i, w := range p.Weights {
		ws[i] = banditWeightJSON(w)
	}
	var j jsonEnc
	enc := s.Dialect.TimeEncoding()
	row := banditPeriodRow{Experiment: p.Experiment, Period: p.Period, StartsAt: enc.Encode(p.StartsAt), Weights: j.s(ws),
		Units: p.Units, Spend: p.Spend, PacingTarget: p.PacingTarget, PacingFactor: p.PacingFactor, CreatedAt: enc.Encode(p.CreatedAt)}
	if j.err != nil {
		return false, s.wrap("insert bandit period", j.err)
	}
	res, err := s.W.NamedExecContext(ctx, `INSERT INTO bandit_periods (`+banditPeriodColumns+`) VALUES (`+
		namedValues(banditPeriodColumns)+`) ON CONFLICT (experiment, period) DO NOTHING`, row)
	if err != nil {
		return false, s.wrap("insert bandit period", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.wrap("insert bandit period", err)
	}
	return n == 1, nil
}

// BanditPeriods implements experiments.BanditStore.
func (s *Store) BanditPeriods(ctx context.Context, experiment string) ([]experiments.BanditPeriod, error) {
	var rows []banditPeriodRow
	if err := s.R.SelectContext(ctx, &rows, `SELECT `+banditPeriodColumns+` FROM bandit_periods WHERE experiment = ? ORDER BY period`, experiment); err != nil {
		return nil, s.wrap("bandit periods", err)
	}
	out := make([]experiments.BanditPeriod, len(rows))
	for i, r := range rows {
		var ws []banditWeightJSON
		if err := json.Unmarshal([]byte(r.Weights), &ws); err != nil {
			return nil, s.wrap("bandit periods", err)
		}
		p := experiments.BanditPeriod{Experiment: r.Experiment, Period: r.Period, StartsAt: r.StartsAt.Time,
			Units: r.Units, Spend: r.Spend, PacingTarget: r.PacingTarget, PacingFactor: r.PacingFactor, CreatedAt: r.CreatedAt.Time}
		for _, w := range ws {
			p.Weights = append(p.Weights, experiments.BanditWeight(w))
		}
		out[i] = p
	}
	return out, nil
}

// BanditStats reads the per-period, per-variant sums of bq in q (a read
// transaction): one row per analysed unit (its first variant and first
// exposure, exposures, and the revenue and cost of its attributed
// conversions of bq.Metric), folded here by the period of its first
// exposure. Memory is per cell: the rows are streamed.
func (d CohortDialect) BanditStats(ctx context.Context, q RowsQueryer, bq experiments.BanditQuery) ([]experiments.BanditCell, error) {
	rows, err := q.QueryContext(ctx, `SELECT u.first_variant, u.first_exposed_at, u.exposures,
	COALESCE(m.revenue, 0) AS revenue, COALESCE(m.cost, 0) AS cost
FROM exposures_rollup u
LEFT JOIN unit_metrics m ON m.experiment = u.experiment AND m.unit_id = u.unit_id AND m.metric = `+d.TextParam+`
WHERE u.experiment = `+d.TextParam+` AND NOT u.multiple`, bq.Metric, bq.Experiment)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type key struct {
		period  int
		variant string
	}
	cells := map[key]*experiments.BanditCell{}
	var variant string
	var first Time
	var exposures int64
	var revenue, cost float64
	for rows.Next() {
		if err := rows.Scan(&variant, &first, &exposures, &revenue, &cost); err != nil {
			return nil, err
		}
		k := key{experiments.BanditPeriodOf(bq.Starts, first.Time), variant}
		c := cells[k]
		if c == nil {
			c = &experiments.BanditCell{Period: k.period, Variant: variant}
			cells[k] = c
		}
		cost += float64(bq.ExposureCosts[variant] * exposures)
		net := revenue - cost
		c.Units++
		c.Net += net
		c.NetSquares += net * net
		c.Cost += cost
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]experiments.BanditCell, 0, len(cells))
	for _, c := range cells {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Period != out[j].Period {
			return out[i].Period < out[j].Period
		}
		return out[i].Variant < out[j].Variant
	})
	return out, nil
}
