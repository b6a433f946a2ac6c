package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/promolift/promolift/experiments"
)

// ExperimentRequest is the body of POST /api/v1/experiments and
// PUT /api/v1/experiments/{key}. Omitted fields take their defaults
// (coverage 1, unit_attribute "id", seed = key, hash_version 2,
// environment "production", attribution window 168 hours, engine
// "frequentist", alternative "two-sided", planned_mde 0 meaning 5%).
type ExperimentRequest struct {
	Key                    string          `json:"key"`
	Name                   string          `json:"name"`
	Hypothesis             string          `json:"hypothesis"`
	Owner                  string          `json:"owner"`
	Environment            string          `json:"environment"`
	UnitAttribute          string          `json:"unit_attribute"`
	FallbackAttribute      string          `json:"fallback_attribute"`
	Seed                   string          `json:"seed"`
	HashVersion            int             `json:"hash_version"`
	Sticky                 bool            `json:"sticky"`
	Coverage               *float64        `json:"coverage"`
	Variants               []VariantDTO    `json:"variants"`
	Namespace              *NamespaceDTO   `json:"namespace"`
	Layer                  string          `json:"layer"`
	Condition              json.RawMessage `json:"condition"`
	PrimaryMetric          string          `json:"primary_metric"`
	SecondaryMetrics       []string        `json:"secondary_metrics"`
	GuardrailMetrics       []string        `json:"guardrail_metrics"`
	AttributionWindowHours int             `json:"attribution_window_hours"`
	Segments               []string        `json:"segments"`
	Personalization        bool            `json:"personalization"`
	Engine                 string          `json:"engine"`
	SequentialTuning       int             `json:"sequential_tuning"`
	Alternative            string          `json:"alternative"`
	LowerIsBetterMetrics   []string        `json:"lower_is_better_metrics"`
	PlannedMDE             float64         `json:"planned_mde"`
	CapGroup               string          `json:"cap_group"`
	MinROI                 float64         `json:"min_roi"`
	Allocation             *AllocationDTO  `json:"allocation"`
}

// AllocationDTO is how an experiment splits its traffic (docs/bandit.md):
// mode "fixed" (default) or "bandit". For a bandit, update_every and
// flight are durations such as "6h" or "90m" (defaults "24h" and "336h"),
// min_weight the least weight of an arm (default 0.05), budget the
// promotion spend over the flight in minor units (0: no pacing).
type AllocationDTO struct {
	Mode        string   `json:"mode"`
	UpdateEvery string   `json:"update_every,omitempty"`
	MinWeight   *float64 `json:"min_weight,omitempty"`
	Budget      int64    `json:"budget,omitempty"`
	Flight      string   `json:"flight,omitempty"`
}

// VariantDTO is one variant of an experiment.
type VariantDTO struct {
	Key       string          `json:"key"`
	Name      string          `json:"name,omitempty"`
	Weight    float64         `json:"weight"`
	Promotion PromotionDTO    `json:"promotion"`
	FlagValue json.RawMessage `json:"flag_value,omitempty"`
}

// PromotionDTO is a variant's promotion. Money (unit_cost, budget) is in
// integer minor units of currency.
type PromotionDTO struct {
	Type     string  `json:"type"`
	Value    float64 `json:"value,omitempty"`
	CostRule string  `json:"cost_rule,omitempty"`
	UnitCost int64   `json:"unit_cost,omitempty"`
	Currency string  `json:"currency,omitempty"`
	Budget   int64   `json:"budget,omitempty"`
}

// NamespaceDTO is the namespace slice [start, end) of an experiment.
type NamespaceDTO struct {
	ID    string  `json:"id"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// ExperimentResponse is an experiment as the API returns it.
type ExperimentResponse struct {
	Key                    string          `json:"key"`
	Name                   string          `json:"name"`
	Hypothesis             string          `json:"hypothesis"`
	Owner                  string          `json:"owner"`
	Environment            string          `json:"environment"`
	Status                 string          `json:"status"`
	UnitAttribute          string          `json:"unit_attribute"`
	FallbackAttribute      string          `json:"fallback_attribute,omitempty"`
	Seed                   string          `json:"seed"`
	HashVersion            int             `json:"hash_version"`
	BucketVersion          int             `json:"bucket_version"`
	MinBucketVersion       int             `json:"min_bucket_version"`
	Sticky                 bool            `json:"sticky"`
	Coverage               float64         `json:"coverage"`
	Variants               []VariantDTO    `json:"variants"`
	Namespace              *NamespaceDTO   `json:"namespace,omitempty"`
	Layer                  string          `json:"layer,omitempty"`
	Condition              json.RawMessage `json:"condition,omitempty"`
	PrimaryMetric          string          `json:"primary_metric"`
	SecondaryMetrics       []string        `json:"secondary_metrics"`
	GuardrailMetrics       []string        `json:"guardrail_metrics"`
	AttributionWindowHours float64         `json:"attribution_window_hours"`
	Segments               []string        `json:"segments"`
	Personalization        bool            `json:"personalization"`
	Engine                 string          `json:"engine"`
	SequentialTuning       int             `json:"sequential_tuning,omitempty"`
	Alternative            string          `json:"alternative"`
	LowerIsBetterMetrics   []string        `json:"lower_is_better_metrics"`
	PlannedMDE             float64         `json:"planned_mde,omitempty"`
	CapGroup               string          `json:"cap_group,omitempty"`
	MinROI                 float64         `json:"min_roi,omitempty"`
	Allocation             AllocationDTO   `json:"allocation"`
	StartedAt              *time.Time      `json:"started_at"`
	EndedAt                *time.Time      `json:"ended_at"`
	CreatedAt              time.Time       `json:"created_at"`
	UpdatedAt              time.Time       `json:"updated_at"`
	Revision               int64           `json:"revision"`
}

// toDomain converts the request to a domain experiment.
func (r *ExperimentRequest) toDomain() *experiments.Experiment {
	e := &experiments.Experiment{
		Key: r.Key, Name: r.Name, Hypothesis: r.Hypothesis, Owner: r.Owner, Environment: r.Environment,
		UnitAttribute: r.UnitAttribute, FallbackAttribute: r.FallbackAttribute, Seed: r.Seed,
		HashVersion: r.HashVersion, Sticky: r.Sticky, Coverage: 1, Layer: r.Layer,
		Condition:     rawOrNil(r.Condition),
		PrimaryMetric: r.PrimaryMetric, SecondaryMetrics: r.SecondaryMetrics, GuardrailMetrics: r.GuardrailMetrics,
		AttributionWindow: time.Duration(r.AttributionWindowHours) * time.Hour,
		Segments:          r.Segments, Personalization: r.Personalization, Engine: r.Engine,
		SequentialTuning: r.SequentialTuning, CapGroup: r.CapGroup, MinROI: r.MinROI,
		Alternative: r.Alternative, LowerIsBetterMetrics: r.LowerIsBetterMetrics, PlannedMDE: r.PlannedMDE,
	}
	if r.AttributionWindowHours < 0 {
		// Keep it negative so that validation names the field.
		e.AttributionWindow = -time.Hour
	}
	if r.Coverage != nil {
		e.Coverage = *r.Coverage
	}
	if r.Allocation != nil {
		e.Allocation = r.Allocation.toDomain()
	}
	if r.Namespace != nil {
		e.Namespace = &experiments.Namespace{ID: r.Namespace.ID, Start: r.Namespace.Start, End: r.Namespace.End}
	}
	e.Variants = make([]experiments.Variant, len(r.Variants))
	for i, v := range r.Variants {
		e.Variants[i] = experiments.Variant{
			Key: v.Key, Name: v.Name, Weight: v.Weight, FlagValue: rawOrNil(v.FlagValue),
			Promotion: experiments.Promotion{
				Type: experiments.PromotionType(v.Promotion.Type), Value: v.Promotion.Value,
				CostRule: experiments.CostRule(v.Promotion.CostRule), UnitCost: v.Promotion.UnitCost,
				Currency: v.Promotion.Currency, Budget: v.Promotion.Budget,
			},
		}
	}
	return e
}

// toDomain converts the allocation; a duration that does not parse
// becomes -1ns, so that validation names its field.
func (a *AllocationDTO) toDomain() experiments.Allocation {
	out := experiments.Allocation{Mode: a.Mode, Budget: a.Budget}
	if a.MinWeight != nil {
		out.MinWeight = *a.MinWeight
	} else if a.Mode == experiments.AllocationBandit {
		out.MinWeight = experiments.DefaultBanditMinWeight
	}
	for _, f := range []struct {
		src string
		dst *time.Duration
	}{{a.UpdateEvery, &out.UpdateEvery}, {a.Flight, &out.Flight}} {
		if f.src == "" {
			continue
		}
		d, err := time.ParseDuration(f.src)
		if err != nil || d <= 0 {
			d = -1
		}
		*f.dst = d
	}
	return out
}

// AllocationOf is the allocation as the API returns it: mode fixed or
// bandit, and a bandit's settings with its defaults applied.
func AllocationOf(a experiments.Allocation) AllocationDTO {
	out := AllocationDTO{Mode: a.Mode}
	if out.Mode == "" {
		out.Mode = experiments.AllocationFixed
	}
	if a.Bandit() {
		w := a.MinWeight
		out.MinWeight, out.Budget = &w, a.Budget
		out.UpdateEvery, out.Flight = formatDuration(a.UpdateEvery), formatDuration(a.Flight)
	}
	return out
}

// formatDuration writes d in whole hours ("24h") or minutes ("90m") when
// it is one, else as time.Duration does.
func formatDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}

// rawOrNil drops an absent or null JSON value.
func rawOrNil(r json.RawMessage) json.RawMessage {
	t := bytes.TrimSpace(r)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil
	}
	return t
}

func experimentResponse(e *experiments.Experiment) ExperimentResponse {
	r := ExperimentResponse{
		Key: e.Key, Name: e.Name, Hypothesis: e.Hypothesis, Owner: e.Owner, Environment: e.Environment,
		Status: string(e.Status), UnitAttribute: e.UnitAttribute, FallbackAttribute: e.FallbackAttribute,
		Seed: e.Seed, HashVersion: e.HashVersion, BucketVersion: e.BucketVersion, MinBucketVersion: e.MinBucketVersion,
		Sticky: e.Sticky, Coverage: e.Coverage, Layer: e.Layer, Condition: rawOrNil(e.Condition),
		PrimaryMetric: e.PrimaryMetric, SecondaryMetrics: nonNil(e.SecondaryMetrics),
		GuardrailMetrics: nonNil(e.GuardrailMetrics), AttributionWindowHours: e.AttributionWindow.Hours(),
		Segments: nonNil(e.Segments), Personalization: e.Personalization, Engine: e.Engine,
		SequentialTuning: e.SequentialTuning, CapGroup: e.CapGroup, MinROI: e.MinROI,
		Alternative: e.Alternative, LowerIsBetterMetrics: nonNil(e.LowerIsBetterMetrics), PlannedMDE: e.PlannedMDE,
		Allocation: AllocationOf(e.Allocation),
		StartedAt:  timePtr(e.StartedAt), EndedAt: timePtr(e.EndedAt),
		CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC(), Revision: e.Revision,
		Variants: make([]VariantDTO, len(e.Variants)),
	}
	if e.Namespace != nil {
		r.Namespace = &NamespaceDTO{ID: e.Namespace.ID, Start: e.Namespace.Start, End: e.Namespace.End}
	}
	for i, v := range e.Variants {
		r.Variants[i] = VariantDTO{Key: v.Key, Name: v.Name, Weight: v.Weight, FlagValue: rawOrNil(v.FlagValue),
			Promotion: PromotionDTO{Type: string(v.Promotion.Type), Value: v.Promotion.Value,
				CostRule: string(v.Promotion.CostRule), UnitCost: v.Promotion.UnitCost,
				Currency: v.Promotion.Currency, Budget: v.Promotion.Budget}}
	}
	return r
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func (a *api) createExperiment(c *gin.Context) {
	var req ExperimentRequest
	if err := a.decodeDefinition(c, &req); err != nil {
		abortProblem(c, err)
		return
	}
	e := req.toDomain()
	if err := a.svc.CreateExperiment(c.Request.Context(), who(c), e); err != nil {
		abortProblem(c, err)
		return
	}
	c.Header("Location", "/api/v1/experiments/"+e.Key)
	writeJSON(c, http.StatusCreated, experimentResponse(e))
}

var validStatuses = map[string]bool{"draft": true, "running": true, "paused": true, "stopped": true, "archived": true}

func (a *api) listExperiments(c *gin.Context) {
	status := c.Query("status")
	if status != "" && !validStatuses[status] {
		abortProblem(c, badRequest("status", "invalid_status", "status must be draft, running, paused, stopped or archived"))
		return
	}
	env, ok := listEnvironment(c)
	if !ok {
		writeJSON(c, http.StatusOK, gin.H{"experiments": []ExperimentResponse{}})
		return
	}
	list, err := a.svc.ListExperiments(c.Request.Context(), experiments.ExperimentFilter{Environment: env, Status: experiments.Status(status)})
	if err != nil {
		abortProblem(c, err)
		return
	}
	writeJSON(c, http.StatusOK, gin.H{"experiments": responses(list, experimentResponse)})
}

// experimentEnvironment is the environment of e, for checkEnvironment.
func experimentEnvironment(e *experiments.Experiment) string { return e.Environment }

func (a *api) getExperiment(c *gin.Context) {
	e, err := a.svc.GetExperiment(c.Request.Context(), c.Param("key"))
	if err != nil {
		abortProblem(c, err)
		return
	}
	writeJSON(c, http.StatusOK, experimentResponse(e))
}

func (a *api) updateExperiment(c *gin.Context) {
	var req ExperimentRequest
	if err := a.decodeUpdate(c, &req, &req.Key); err != nil {
		abortProblem(c, err)
		return
	}
	e, err := a.svc.UpdateExperiment(c.Request.Context(), who(c), req.toDomain())
	if err != nil {
		abortProblem(c, err)
		return
	}
	writeJSON(c, http.StatusOK, experimentResponse(e))
}

func (a *api) transition(act experiments.Action) gin.HandlerFunc {
	return func(c *gin.Context) {
		e, err := a.svc.Transition(c.Request.Context(), who(c), c.Param("key"), act)
		if err != nil {
			abortProblem(c, err)
			return
		}
		writeJSON(c, http.StatusOK, experimentResponse(e))
	}
}

// RerandomizeRequest is the body of POST /api/v1/experiments/{key}/rerandomize.
type RerandomizeRequest struct {
	Weights  []float64 `json:"weights"`
	Coverage *float64  `json:"coverage"`
}

func (a *api) rerandomize(c *gin.Context) {
	var req RerandomizeRequest
	if err := a.decodeDefinition(c, &req); err != nil {
		abortProblem(c, err)
		return
	}
	e, err := a.svc.Rerandomize(c.Request.Context(), who(c), c.Param("key"),
		experiments.Rerandomization{Weights: req.Weights, Coverage: req.Coverage})
	if err != nil {
		abortProblem(c, err)
		return
	}
	writeJSON(c, http.StatusOK, experimentResponse(e))
}
