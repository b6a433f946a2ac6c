package sqlstore

import (
	"context"
	"fmt"

	"github.com/promolift/promolift/experiments"
)

// ChannelCredit runs the query of experiments.ChannelStore.ChannelCredit
// on q (a database handle or transaction): the attributed conversions of
// the analysed units of sq.Experiment (sq.MultipleExposure applies), per
// credited channel, variant and conversion name, with their revenue net of
// refunds (MoneyDialect.Revenue). A conversion is credited to its own
// channel, else to the channel of its unit's first exposure, else to
// experiments.NoSlice.
func (d CohortDialect) ChannelCredit(ctx context.Context, q Queryer, sq experiments.StatsQuery) ([]experiments.ChannelCredit, error) {
	analysed := `NOT r.multiple`
	if sq.MultipleExposure == experiments.MultipleFirst {
		analysed = d.True
	}
	var rows []struct {
		Channel     string  `db:"channel"`
		Variant     string  `db:"variant"`
		Metric      string  `db:"metric"`
		Conversions int64   `db:"conversions"`
		Revenue     float64 `db:"revenue"`
	}
	err := q.SelectContext(ctx, &rows, `SELECT COALESCE(NULLIF(c.channel, ''), NULLIF(r.channel, ''), '`+experiments.NoSlice+`') AS channel,
	r.first_variant AS variant, c.name AS metric, COUNT(*) AS conversions, SUM(CAST(`+d.Revenue("")+` AS `+d.Float+`)) AS revenue
FROM exposures_rollup r
LEFT JOIN experiments xw ON xw.key = r.experiment
`+d.JoinEvents+` events c ON c.type = 'conversion' AND c.unit_id = r.unit_id
	AND c.ts >= r.first_exposed_at
	AND c.ts <= r.first_exposed_at + COALESCE(xw.attribution_window_us, `+fmt.Sprint(defaultWindowUS)+`)`+d.Micros+`
	AND c.ts >= `+d.firstExposure("MIN")+` AND `+CountsIn("c", "xw.environment")+`
WHERE r.experiment = `+d.TextParam+` AND `+analysed+`
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, sq.Experiment, sq.Experiment)
	if err != nil {
		return nil, err
	}
	out := make([]experiments.ChannelCredit, len(rows))
	for i, r := range rows {
		out[i] = experiments.ChannelCredit(r)
	}
	return out, nil
}
