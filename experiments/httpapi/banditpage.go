package httpapi

import (
	"fmt"
	"html/template"
	"math"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/stats/bandit"
)

// The bandit section of the report (docs/bandit.md): JSON and page.

// BanditDTO is the bandit section of the JSON report; null unless the
// experiment runs as a bandit. Money is in minor units.
type BanditDTO struct {
	Allocation AllocationDTO `json:"allocation"`
	// Periods is the weight history, one entry per period.
	Periods []BanditPeriodDTO `json:"periods"`
	// Spend is the promotion spend of the analysed units as of the report
	// and PacingTarget the pacing line then (0 without a budget).
	Spend        float64 `json:"spend"`
	PacingTarget float64 `json:"pacing_target"`
	// Estimates are per variant: the per-period weighted mean net revenue
	// per unit and, for a treatment, its effect against control.
	Estimates []BanditVariantEstimateDTO `json:"estimates"`
}

// BanditPeriodDTO is one period of the weight history: the weights in
// force from starts_at, the units first exposed in the period, and the
// units, spend and pacing line as of its start.
type BanditPeriodDTO struct {
	Period       int               `json:"period"`
	StartsAt     time.Time         `json:"starts_at"`
	Weights      []BanditWeightDTO `json:"weights"`
	UnitsBefore  int64             `json:"units_before"`
	Spend        float64           `json:"spend"`
	PacingTarget float64           `json:"pacing_target"`
	PacingFactor float64           `json:"pacing_factor"`
}

// BanditWeightDTO is one variant in a period: its weight, its probability
// of being best when the weight was set, and the units first exposed to it
// in the period.
type BanditWeightDTO struct {
	Variant  string  `json:"variant"`
	Weight   float64 `json:"weight"`
	ProbBest float64 `json:"prob_best"`
	Units    int64   `json:"units"`
}

// BanditEstimateDTO is a per-period weighted estimate with its standard
// error, 95% interval and the number of periods it combines.
type BanditEstimateDTO struct {
	Estimate float64    `json:"estimate"`
	SE       float64    `json:"se"`
	CI       [2]float64 `json:"ci"`
	Periods  int        `json:"periods"`
}

// BanditVariantEstimateDTO is one variant's estimates.
type BanditVariantEstimateDTO struct {
	Variant string             `json:"variant"`
	Mean    BanditEstimateDTO  `json:"mean"`
	Effect  *BanditEstimateDTO `json:"effect"`
}

func banditEstimate(e bandit.Effect) BanditEstimateDTO {
	return BanditEstimateDTO{Estimate: e.Estimate, SE: e.SE, CI: e.CI, Periods: e.Periods}
}

func banditDTO(b *experiments.BanditReport) *BanditDTO {
	if b == nil {
		return nil
	}
	out := &BanditDTO{Allocation: AllocationOf(b.Allocation), Periods: []BanditPeriodDTO{},
		Spend: b.Spend, PacingTarget: b.PacingTarget, Estimates: []BanditVariantEstimateDTO{}}
	for i, h := range b.History {
		p := BanditPeriodDTO{Period: h.Period, StartsAt: h.StartsAt.UTC(), UnitsBefore: h.Units, Spend: h.Spend,
			PacingTarget: h.PacingTarget, PacingFactor: h.PacingFactor, Weights: make([]BanditWeightDTO, len(h.Weights))}
		for j, w := range h.Weights {
			p.Weights[j] = BanditWeightDTO{Variant: w.Variant, Weight: w.Weight, ProbBest: w.ProbBest}
			if i < len(b.PeriodUnits) && j < len(b.PeriodUnits[i]) {
				p.Weights[j].Units = b.PeriodUnits[i][j]
			}
		}
		out.Periods = append(out.Periods, p)
	}
	for _, e := range b.Estimates {
		d := BanditVariantEstimateDTO{Variant: e.Variant, Mean: banditEstimate(e.Mean)}
		if e.Effect != nil {
			eff := banditEstimate(*e.Effect)
			d.Effect = &eff
		}
		out.Estimates = append(out.Estimates, d)
	}
	return out
}

// banditView is the page's bandit section.
type banditView struct {
	Mode, Schedule, MinWeight, Budget string
	Weights, Spend                    template.HTML // the charts; Spend empty without a budget
	Rows                              []banditRow
}

type banditRow struct {
	Variant, Weight, Mean, MeanCI, Effect, EffectCI string
	Periods                                         int
}

// banditPage builds the bandit section of the page; nil for a fixed
// split.
func banditPage(b *BanditDTO, money func(float64) string) *banditView {
	if b == nil {
		return nil
	}
	a := b.Allocation
	v := &banditView{Mode: a.Mode, Schedule: a.UpdateEvery, Weights: weightChart(b), Spend: spendChart(b, money)}
	if a.MinWeight != nil {
		v.MinWeight = pct(*a.MinWeight)
	}
	if a.Budget > 0 {
		v.Budget = money(float64(a.Budget)) + " over " + a.Flight
	}
	current := map[string]float64{}
	if n := len(b.Periods); n > 0 {
		for _, w := range b.Periods[n-1].Weights {
			current[w.Variant] = w.Weight
		}
	}
	for _, e := range b.Estimates {
		r := banditRow{Variant: e.Variant, Weight: pct(current[e.Variant]), Mean: money(e.Mean.Estimate),
			MeanCI: "[" + money(e.Mean.CI[0]) + ", " + money(e.Mean.CI[1]) + "]", Effect: "—", EffectCI: "—", Periods: e.Mean.Periods}
		if f := e.Effect; f != nil {
			r.Effect, r.EffectCI, r.Periods = money(f.Estimate), "["+money(f.CI[0])+", "+money(f.CI[1])+"]", f.Periods
		}
		v.Rows = append(v.Rows, r)
	}
	return v
}

// weightChart draws the weight history as stacked bands: one column per
// period, one <rect class="bar"> per variant (its weight as height), each
// with a <title> (period, variant, weight, P(best), units).
func weightChart(b *BanditDTO) template.HTML {
	const w, h, left, right, top, bottom = 640.0, 240.0, 60.0, 12.0, 12.0, 36.0
	s := newSVG(w, h, "bandit-weights", "Weight of each variant per period")
	n := len(b.Periods)
	if n == 0 {
		s.text(w/2, h/2, "middle", "axis", "no period yet")
		return s.HTML()
	}
	y := scale{0, 1, h - bottom, top}
	for _, t := range []float64{0, 0.25, 0.5, 0.75, 1} {
		s.line(left, y.at(t), w-right, y.at(t), "grid")
		s.text(left-6, y.at(t)+4, "end", "axis", pct(t))
	}
	col := (w - left - right) / float64(n)
	for i, p := range b.Periods {
		x := left + float64(i)*col
		acc := 0.0
		for j, wt := range p.Weights {
			y0, y1 := y.at(acc), y.at(acc+wt.Weight)
			acc += wt.Weight
			title := fmt.Sprintf("period %d, %s: weight %s, P(best) %s, %d units", p.Period, wt.Variant, pct(wt.Weight), pct(wt.ProbBest), wt.Units)
			s.bar(x+1, y1, math.Max(col-2, 1), math.Max(y0-y1, 0), title,
				map[string]string{"period": fmt.Sprint(p.Period), "variant": wt.Variant, "series": fmt.Sprint(j % 8)})
		}
		if n <= 24 || i%((n+23)/24) == 0 {
			s.text(x+col/2, h-bottom+16, "middle", "axis", fmt.Sprint(p.Period))
		}
	}
	s.text((left+w-right)/2, h-4, "middle", "axis", "period")
	return s.HTML()
}

// spendChart draws the spend at the start of every period (points) and
// as of the report against the pacing line (a dashed polyline); empty
// without a budget.
func spendChart(b *BanditDTO, money func(float64) string) template.HTML {
	if b.Allocation.Budget <= 0 || len(b.Periods) == 0 {
		return ""
	}
	const w, h, left, right, top, bottom = 640.0, 220.0, 110.0, 12.0, 12.0, 36.0
	s := newSVG(w, h, "bandit-spend", "Promotion spend against the pacing line")
	type pt struct {
		label         string
		spend, target float64
	}
	var pts []pt
	for _, p := range b.Periods {
		pts = append(pts, pt{fmt.Sprintf("start of period %d", p.Period), p.Spend, p.PacingTarget})
	}
	pts = append(pts, pt{"now", b.Spend, b.PacingTarget})
	var vals []float64
	for _, p := range pts {
		vals = append(vals, p.spend, p.target)
	}
	y := s.valueAxis(vals, left, w-right, h-bottom, top, money)
	x := scale{0, float64(len(pts) - 1), left + 8, w - right - 8}
	line := make([][2]float64, len(pts))
	spent := make([][2]float64, len(pts))
	for i, p := range pts {
		line[i] = [2]float64{x.at(float64(i)), y.at(p.target)}
		spent[i] = [2]float64{x.at(float64(i)), y.at(p.spend)}
	}
	s.polyline(line, "pacing")
	s.polyline(spent, "spend")
	for i, p := range pts {
		gap := ""
		if p.target > 0 {
			gap = fmt.Sprintf(" (%+.1f%% of the line)", 100*(p.spend-p.target)/p.target)
		}
		s.point(x.at(float64(i)), y.at(p.spend), 3.5, fmt.Sprintf("%s: spent %s, pacing line %s%s", p.label, money(p.spend), money(p.target), gap),
			map[string]string{"spend": num(p.spend), "target": num(p.target)})
	}
	s.text((left+w-right)/2, h-4, "middle", "axis", "period start → now")
	return s.HTML()
}
