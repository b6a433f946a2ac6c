package sqlstore

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/promolift/promolift/experiments"
)

// compact returns raw without insignificant space, nil when empty.
func compact(raw []byte) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return json.RawMessage(raw)
	}
	return json.RawMessage(b.Bytes())
}

// nullJSON returns raw as a nullable text column.
func nullJSON(raw []byte) sql.NullString {
	if len(raw) == 0 {
		return sql.NullString{}
	}
	return sql.NullString{String: string(raw), Valid: true}
}

// jsonEnc marshals values to JSON text and keeps the first error.
type jsonEnc struct{ err error }

func (j *jsonEnc) s(v any) string {
	b, err := json.Marshal(v)
	if err != nil && j.err == nil {
		j.err = experiments.Invalid("", "invalid_json", "a JSON field is not valid JSON: %v", err)
	}
	return string(b)
}

type promotionJSON struct {
	Type     string  `json:"type"`
	Value    float64 `json:"value,omitempty"`
	CostRule string  `json:"cost_rule,omitempty"`
	UnitCost int64   `json:"unit_cost,omitempty"`
	Currency string  `json:"currency,omitempty"`
	Budget   int64   `json:"budget,omitempty"`
}

type variantJSON struct {
	Key       string          `json:"key"`
	Name      string          `json:"name,omitempty"`
	Weight    float64         `json:"weight"`
	Promotion promotionJSON   `json:"promotion"`
	FlagValue json.RawMessage `json:"flag_value,omitempty"`
}

type namespaceJSON struct {
	ID    string  `json:"id"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// allocationJSON is the allocation column: NULL for a fixed split.
type allocationJSON struct {
	Mode          string  `json:"mode"`
	UpdateEveryUS int64   `json:"update_every_us,omitempty"`
	MinWeight     float64 `json:"min_weight,omitempty"`
	Budget        int64   `json:"budget,omitempty"`
	FlightUS      int64   `json:"flight_us,omitempty"`
}

type flagRuleJSON struct {
	ID         string          `json:"id,omitempty"`
	Condition  json.RawMessage `json:"condition,omitempty"`
	Variant    string          `json:"variant,omitempty"`
	Rollout    *float64        `json:"rollout,omitempty"`
	Experiment string          `json:"experiment,omitempty"`
	Seed       string          `json:"seed,omitempty"`
}

// experimentRow is the experiments table.
type experimentRow struct {
	Key                 string         `db:"key"`
	Name                string         `db:"name"`
	Hypothesis          string         `db:"hypothesis"`
	Owner               string         `db:"owner"`
	Environment         string         `db:"environment"`
	Status              string         `db:"status"`
	UnitAttribute       string         `db:"unit_attribute"`
	FallbackAttribute   string         `db:"fallback_attribute"`
	Seed                string         `db:"seed"`
	HashVersion         int            `db:"hash_version"`
	BucketVersion       int            `db:"bucket_version"`
	MinBucketVersion    int            `db:"min_bucket_version"`
	Sticky              bool           `db:"sticky"`
	Coverage            float64        `db:"coverage"`
	Variants            string         `db:"variants"`
	Namespace           sql.NullString `db:"namespace"`
	Layer               string         `db:"layer"`
	Condition           sql.NullString `db:"condition"`
	PrimaryMetric       string         `db:"primary_metric"`
	SecondaryMetrics    string         `db:"secondary_metrics"`
	GuardrailMetrics    string         `db:"guardrail_metrics"`
	AttributionWindowUS int64          `db:"attribution_window_us"`
	Segments            string         `db:"segments"`
	Personalization     bool           `db:"personalization"`
	Engine              string         `db:"engine"`
	SequentialTuning    int            `db:"sequential_tuning"`
	CapGroup            string         `db:"cap_group"`
	MinROI              float64        `db:"min_roi"`
	Alternative         string         `db:"alternative"`
	LowerIsBetter       string         `db:"lower_is_better_metrics"`
	PlannedMDE          float64        `db:"planned_mde"`
	Allocation          sql.NullString `db:"allocation"`
	StartedAt           Time           `db:"started_at"`
	EndedAt             Time           `db:"ended_at"`
	CreatedAt           Time           `db:"created_at"`
	UpdatedAt           Time           `db:"updated_at"`
	Revision            int64          `db:"revision"`
}

func strings0(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func toExperimentRow(enc TimeEncoding, e *experiments.Experiment) (*experimentRow, error) {
	var j jsonEnc
	vs := make([]variantJSON, len(e.Variants))
	for i, v := range e.Variants {
		p := v.Promotion
		vs[i] = variantJSON{Key: v.Key, Name: v.Name, Weight: v.Weight, FlagValue: compact(v.FlagValue),
			Promotion: promotionJSON{Type: string(p.Type), Value: p.Value, CostRule: string(p.CostRule),
				UnitCost: p.UnitCost, Currency: p.Currency, Budget: p.Budget}}
	}
	r := &experimentRow{
		Key: e.Key, Name: e.Name, Hypothesis: e.Hypothesis, Owner: e.Owner, Environment: e.Environment,
		Status: string(e.Status), UnitAttribute: e.UnitAttribute, FallbackAttribute: e.FallbackAttribute,
		Seed: e.Seed, HashVersion: e.HashVersion, BucketVersion: e.BucketVersion,
		MinBucketVersion: e.MinBucketVersion, Sticky: e.Sticky, Coverage: e.Coverage,
		Variants: j.s(vs), Layer: e.Layer, Condition: nullJSON(compact(e.Condition)),
		PrimaryMetric: e.PrimaryMetric, SecondaryMetrics: j.s(strings0(e.SecondaryMetrics)),
		GuardrailMetrics:    j.s(strings0(e.GuardrailMetrics)),
		AttributionWindowUS: e.AttributionWindow.Microseconds(), Segments: j.s(strings0(e.Segments)),
		Personalization: e.Personalization, Engine: e.Engine, SequentialTuning: e.SequentialTuning,
		CapGroup: e.CapGroup, MinROI: e.MinROI, Alternative: e.Alternative,
		LowerIsBetter: j.s(strings0(e.LowerIsBetterMetrics)), PlannedMDE: e.PlannedMDE,
		StartedAt: enc.Encode(e.StartedAt), EndedAt: enc.Encode(e.EndedAt),
		CreatedAt: enc.Encode(e.CreatedAt), UpdatedAt: enc.Encode(e.UpdatedAt), Revision: e.Revision,
	}
	if a := e.Allocation; a.Bandit() {
		r.Allocation = sql.NullString{String: j.s(allocationJSON{Mode: a.Mode, UpdateEveryUS: a.UpdateEvery.Microseconds(),
			MinWeight: a.MinWeight, Budget: a.Budget, FlightUS: a.Flight.Microseconds()}), Valid: true}
	}
	if e.Namespace != nil {
		r.Namespace = sql.NullString{String: j.s(namespaceJSON{ID: e.Namespace.ID, Start: e.Namespace.Start, End: e.Namespace.End}), Valid: true}
	}
	if e.Condition != nil && !json.Valid(e.Condition) {
		return nil, experiments.Invalid("condition", "invalid_json", "must be a JSON document")
	}
	return r, j.err
}

func (r *experimentRow) toDomain() (*experiments.Experiment, error) {
	e := &experiments.Experiment{
		Key: r.Key, Name: r.Name, Hypothesis: r.Hypothesis, Owner: r.Owner, Environment: r.Environment,
		Status: experiments.Status(r.Status), UnitAttribute: r.UnitAttribute,
		FallbackAttribute: r.FallbackAttribute, Seed: r.Seed, HashVersion: r.HashVersion,
		BucketVersion: r.BucketVersion, MinBucketVersion: r.MinBucketVersion, Sticky: r.Sticky,
		Coverage: r.Coverage, Layer: r.Layer, PrimaryMetric: r.PrimaryMetric,
		AttributionWindow: time.Duration(r.AttributionWindowUS) * time.Microsecond,
		Personalization:   r.Personalization, Engine: r.Engine, SequentialTuning: r.SequentialTuning,
		CapGroup: r.CapGroup, MinROI: r.MinROI, Alternative: r.Alternative, PlannedMDE: r.PlannedMDE,
		StartedAt: r.StartedAt.Time, EndedAt: r.EndedAt.Time,
		CreatedAt: r.CreatedAt.Time, UpdatedAt: r.UpdatedAt.Time, Revision: r.Revision,
	}
	var vs []variantJSON
	if err := json.Unmarshal([]byte(r.Variants), &vs); err != nil {
		return nil, err
	}
	e.Variants = make([]experiments.Variant, len(vs))
	for i, v := range vs {
		p := v.Promotion
		e.Variants[i] = experiments.Variant{Key: v.Key, Name: v.Name, Weight: v.Weight, FlagValue: compact(v.FlagValue),
			Promotion: experiments.Promotion{Type: experiments.PromotionType(p.Type), Value: p.Value,
				CostRule: experiments.CostRule(p.CostRule), UnitCost: p.UnitCost, Currency: p.Currency, Budget: p.Budget}}
	}
	if r.Namespace.Valid {
		var ns namespaceJSON
		if err := json.Unmarshal([]byte(r.Namespace.String), &ns); err != nil {
			return nil, err
		}
		e.Namespace = &experiments.Namespace{ID: ns.ID, Start: ns.Start, End: ns.End}
	}
	if r.Condition.Valid {
		e.Condition = compact([]byte(r.Condition.String))
	}
	if r.Allocation.Valid {
		var a allocationJSON
		if err := json.Unmarshal([]byte(r.Allocation.String), &a); err != nil {
			return nil, err
		}
		e.Allocation = experiments.Allocation{Mode: a.Mode, UpdateEvery: time.Duration(a.UpdateEveryUS) * time.Microsecond,
			MinWeight: a.MinWeight, Budget: a.Budget, Flight: time.Duration(a.FlightUS) * time.Microsecond}
	}
	for _, f := range []struct {
		src string
		dst *[]string
	}{{r.SecondaryMetrics, &e.SecondaryMetrics}, {r.GuardrailMetrics, &e.GuardrailMetrics}, {r.Segments, &e.Segments},
		{r.LowerIsBetter, &e.LowerIsBetterMetrics}} {
		var xs []string
		if err := json.Unmarshal([]byte(f.src), &xs); err != nil {
			return nil, err
		}
		if len(xs) > 0 {
			*f.dst = xs
		}
	}
	return e, nil
}

// flagRow is the flags table.
type flagRow struct {
	Key            string `db:"key"`
	Description    string `db:"description"`
	Environment    string `db:"environment"`
	Type           string `db:"type"`
	Variants       string `db:"variants"`
	DefaultVariant string `db:"default_variant"`
	Enabled        bool   `db:"enabled"`
	Rules          string `db:"rules"`
	CreatedAt      Time   `db:"created_at"`
	UpdatedAt      Time   `db:"updated_at"`
	Revision       int64  `db:"revision"`
}

func toFlagRow(enc TimeEncoding, f *experiments.Flag) (*flagRow, error) {
	var j jsonEnc
	vs := make(map[string]json.RawMessage, len(f.Variants))
	for k, v := range f.Variants {
		vs[k] = compact(v)
	}
	rules := make([]flagRuleJSON, len(f.Rules))
	for i, r := range f.Rules {
		rules[i] = flagRuleJSON{ID: r.ID, Condition: compact(r.Condition), Variant: r.Variant,
			Rollout: r.Rollout, Experiment: r.Experiment, Seed: r.Seed}
	}
	r := &flagRow{Key: f.Key, Description: f.Description, Environment: f.Environment, Type: string(f.Type),
		Variants: j.s(vs), DefaultVariant: f.DefaultVariant, Enabled: f.Enabled, Rules: j.s(rules),
		CreatedAt: enc.Encode(f.CreatedAt), UpdatedAt: enc.Encode(f.UpdatedAt), Revision: f.Revision}
	return r, j.err
}

func (r *flagRow) toDomain() (*experiments.Flag, error) {
	f := &experiments.Flag{Key: r.Key, Description: r.Description, Environment: r.Environment,
		Type: experiments.FlagType(r.Type), DefaultVariant: r.DefaultVariant, Enabled: r.Enabled,
		CreatedAt: r.CreatedAt.Time, UpdatedAt: r.UpdatedAt.Time, Revision: r.Revision}
	var vs map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.Variants), &vs); err != nil {
		return nil, err
	}
	f.Variants = make(map[string]json.RawMessage, len(vs))
	for k, v := range vs {
		f.Variants[k] = compact(v)
	}
	var rules []flagRuleJSON
	if err := json.Unmarshal([]byte(r.Rules), &rules); err != nil {
		return nil, err
	}
	for _, x := range rules {
		f.Rules = append(f.Rules, experiments.FlagRule{ID: x.ID, Condition: compact(x.Condition), Variant: x.Variant,
			Rollout: x.Rollout, Experiment: x.Experiment, Seed: x.Seed})
	}
	return f, nil
}

// keyRow is the api_keys table.
type keyRow struct {
	ID          string `db:"id"`
	Name        string `db:"name"`
	Scope       string `db:"scope"`
	Environment string `db:"environment"`
	Salt        []byte `db:"salt"`
	Hash        []byte `db:"hash"`
	CreatedAt   Time   `db:"created_at"`
	LastUsedAt  Time   `db:"last_used_at"`
	RevokedAt   Time   `db:"revoked_at"`
}

func toKeyRow(enc TimeEncoding, k *experiments.APIKey) *keyRow {
	return &keyRow{ID: k.ID, Name: k.Name, Scope: string(k.Scope), Environment: k.Environment,
		Salt: k.Salt, Hash: k.Hash, CreatedAt: enc.Encode(k.CreatedAt), LastUsedAt: enc.Encode(k.LastUsedAt),
		RevokedAt: enc.Encode(k.RevokedAt)}
}

func (r *keyRow) toDomain() *experiments.APIKey {
	return &experiments.APIKey{ID: r.ID, Name: r.Name, Scope: experiments.Scope(r.Scope),
		Environment: r.Environment, Salt: r.Salt, Hash: r.Hash, CreatedAt: r.CreatedAt.Time,
		LastUsedAt: r.LastUsedAt.Time, RevokedAt: r.RevokedAt.Time}
}

// auditRow is the audit_log table.
type auditRow struct {
	ID       int64          `db:"id"`
	At       Time           `db:"at"`
	KeyID    string         `db:"key_id"`
	Action   string         `db:"action"`
	Resource string         `db:"resource"`
	Env      string         `db:"environment"`
	Before   sql.NullString `db:"before"`
	After    sql.NullString `db:"after"`
}

func (r *auditRow) toDomain() *experiments.AuditEntry {
	e := &experiments.AuditEntry{ID: r.ID, At: r.At.Time, KeyID: r.KeyID, Action: r.Action, Resource: r.Resource, Environment: r.Env}
	if r.Before.Valid {
		e.Before = []byte(r.Before.String)
	}
	if r.After.Valid {
		e.After = []byte(r.After.String)
	}
	return e
}

// AttributesJSON is an event's attributes as a JSON object, or NULL when
// it has none.
func AttributesJSON(m map[string]string) (sql.NullString, error) {
	if len(m) == 0 {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return sql.NullString{}, err
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}
