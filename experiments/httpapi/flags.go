package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/promolift/promolift/experiments"
)

// FlagRequest is the body of POST /api/v1/flags and PUT /api/v1/flags/{key}.
// enabled defaults to false; environment to "production".
type FlagRequest struct {
	Key            string                     `json:"key"`
	Description    string                     `json:"description"`
	Environment    string                     `json:"environment"`
	Type           string                     `json:"type"`
	Variants       map[string]json.RawMessage `json:"variants"`
	DefaultVariant string                     `json:"default_variant"`
	Enabled        bool                       `json:"enabled"`
	Rules          []FlagRuleDTO              `json:"rules"`
}

// FlagRuleDTO is one rule of a flag: a condition, and either a variant
// (with an optional rollout share in [0, 1]) or an experiment.
type FlagRuleDTO struct {
	ID         string          `json:"id,omitempty"`
	Condition  json.RawMessage `json:"condition,omitempty"`
	Variant    string          `json:"variant,omitempty"`
	Rollout    *float64        `json:"rollout,omitempty"`
	Experiment string          `json:"experiment,omitempty"`
	Seed       string          `json:"seed,omitempty"`
}

// FlagResponse is a flag as the API returns it.
type FlagResponse struct {
	Key            string                     `json:"key"`
	Description    string                     `json:"description,omitempty"`
	Environment    string                     `json:"environment"`
	Type           string                     `json:"type"`
	Variants       map[string]json.RawMessage `json:"variants"`
	DefaultVariant string                     `json:"default_variant"`
	Enabled        bool                       `json:"enabled"`
	Rules          []FlagRuleDTO              `json:"rules"`
	CreatedAt      time.Time                  `json:"created_at"`
	UpdatedAt      time.Time                  `json:"updated_at"`
	Revision       int64                      `json:"revision"`
}

func (r *FlagRequest) toDomain() *experiments.Flag {
	f := &experiments.Flag{Key: r.Key, Description: r.Description, Environment: r.Environment,
		Type: experiments.FlagType(r.Type), Variants: r.Variants, DefaultVariant: r.DefaultVariant,
		Enabled: r.Enabled, Rules: make([]experiments.FlagRule, len(r.Rules))}
	for i, rr := range r.Rules {
		f.Rules[i] = experiments.FlagRule{ID: rr.ID, Condition: rawOrNil(rr.Condition), Variant: rr.Variant,
			Rollout: rr.Rollout, Experiment: rr.Experiment, Seed: rr.Seed}
	}
	return f
}

func flagResponse(f *experiments.Flag) FlagResponse {
	r := FlagResponse{Key: f.Key, Description: f.Description, Environment: f.Environment, Type: string(f.Type),
		Variants: f.Variants, DefaultVariant: f.DefaultVariant, Enabled: f.Enabled,
		Rules: make([]FlagRuleDTO, len(f.Rules)), CreatedAt: f.CreatedAt.UTC(), UpdatedAt: f.UpdatedAt.UTC(),
		Revision: f.Revision}
	if r.Variants == nil {
		r.Variants = map[string]json.RawMessage{}
	}
	for i, rr := range f.Rules {
		r.Rules[i] = FlagRuleDTO{ID: rr.ID, Condition: rawOrNil(rr.Condition), Variant: rr.Variant,
			Rollout: rr.Rollout, Experiment: rr.Experiment, Seed: rr.Seed}
	}
	return r
}

func (a *api) createFlag(c *gin.Context) {
	var req FlagRequest
	if err := a.decodeDefinition(c, &req); err != nil {
		abortProblem(c, err)
		return
	}
	f := req.toDomain()
	if err := a.svc.CreateFlag(c.Request.Context(), who(c), f); err != nil {
		abortProblem(c, err)
		return
	}
	c.Header("Location", "/api/v1/flags/"+f.Key)
	writeJSON(c, http.StatusCreated, flagResponse(f))
}

func (a *api) listFlags(c *gin.Context) {
	env, ok := listEnvironment(c)
	if !ok {
		writeJSON(c, http.StatusOK, gin.H{"flags": []FlagResponse{}})
		return
	}
	list, err := a.svc.ListFlags(c.Request.Context(), env)
	if err != nil {
		abortProblem(c, err)
		return
	}
	writeJSON(c, http.StatusOK, gin.H{"flags": responses(list, flagResponse)})
}

// flagEnvironment is the environment of f, for checkEnvironment.
func flagEnvironment(f *experiments.Flag) string { return f.Environment }

func (a *api) getFlag(c *gin.Context) {
	f, err := a.svc.GetFlag(c.Request.Context(), c.Param("key"))
	if err != nil {
		abortProblem(c, err)
		return
	}
	writeJSON(c, http.StatusOK, flagResponse(f))
}

func (a *api) updateFlag(c *gin.Context) {
	var req FlagRequest
	if err := a.decodeUpdate(c, &req, &req.Key); err != nil {
		abortProblem(c, err)
		return
	}
	f := req.toDomain()
	if err := a.svc.UpdateFlag(c.Request.Context(), who(c), f); err != nil {
		abortProblem(c, err)
		return
	}
	writeJSON(c, http.StatusOK, flagResponse(f))
}

func (a *api) deleteFlag(c *gin.Context) {
	if err := a.svc.DeleteFlag(c.Request.Context(), who(c), c.Param("key")); err != nil {
		abortProblem(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
