package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/stats/policy"
)

// Policy learning (DESIGN.md §10): GET /api/v1/experiments/{key}/policy
// and POST /api/v1/experiments/{key}/policy/experiment (the follow-up).

func (a *api) registerPolicyRoutes(v1 *gin.RouterGroup) {
	v1.GET("/experiments/:key/policy", a.require(experiments.ScopeAnalyst), a.getPolicy)
	v1.POST("/experiments/:key/policy/experiment", a.require(experiments.ScopeAdmin), a.createFollowUp)
}

// PolicyResponse is the policy JSON: the experiment, its currency (money
// is in its minor units, per unit unless named otherwise), the horizon of
// the objective, and policy.Output.
type PolicyResponse struct {
	Experiment string `json:"experiment"`
	Currency   string `json:"currency"`
	// Horizon is "attribution_window" or the days after first exposure
	// ("30d").
	Horizon string `json:"horizon"`
	*policy.Output
}

// policyOptions reads the query: features (comma-separated), budget,
// metric, horizon_days, units, folds. Every problem is named, parse errors
// and rule violations together, in one 400 problem.
func policyOptions(c *gin.Context) (experiments.PolicyOptions, error) {
	var o experiments.PolicyOptions
	var errs experiments.ValidationErrors
	bad := func(field, msg string) {
		errs = append(errs, &experiments.Error{Kind: experiments.KindInvalid, Code: "invalid_" + field, Field: field, Message: msg})
	}
	if v, ok := c.GetQuery("features"); ok {
		o.Features = []string{}
		for _, f := range strings.Split(v, ",") {
			o.Features = append(o.Features, strings.TrimSpace(f))
		}
		if v == "" {
			o.Features = []string{}
		}
	}
	if v := c.Query("budget"); v != "" {
		b, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			bad("budget", "budget must be a whole number of minor units")
		} else {
			o.Budget = &b
		}
	}
	o.Metric = c.Query("metric")
	intParam := func(name string, dst *int64) {
		if v := c.Query(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				bad(name, name+" must be a whole number")
				return
			}
			*dst = n
		}
	}
	var days, folds int64
	intParam("horizon_days", &days)
	intParam("units", &o.Units)
	intParam("folds", &folds)
	if days < 0 || days > 365 {
		bad("horizon_days", "horizon_days must be between 0 (the attribution window) and 365")
	} else {
		o.Horizon = time.Duration(days) * 24 * time.Hour
	}
	if folds < 0 || folds > int64(policy.MaxFolds) {
		bad("folds", "folds must be between 2 and 20")
	} else {
		o.Folds = int(folds)
	}
	o = o.WithDefaults()
	return o, optionsProblem(o, errs)
}

// optionsProblem is the 400 problem naming the fields of errs (the parse
// errors) and every rule o breaks; nil when there is none.
func optionsProblem(o experiments.PolicyOptions, errs experiments.ValidationErrors) error {
	var more experiments.ValidationErrors
	if err := o.Validate(); errors.As(err, &more) {
		errs = append(errs, more...)
	}
	if len(errs) == 0 {
		return nil
	}
	return queryProblem(errs)
}

// queryProblem makes the rule violations in err a 400 problem: they are
// about the request's query, not a definition (422). Other errors pass
// through.
func queryProblem(err error) error {
	var errs experiments.ValidationErrors
	if !errors.As(err, &errs) {
		return err
	}
	p := problemFor(errs)
	p.Status = http.StatusBadRequest
	return p
}

func (a *api) getPolicy(c *gin.Context) {
	format := c.DefaultQuery("format", "json")
	if format != "json" && format != "input" {
		abortProblem(c, badRequest("format", "invalid_format", "format must be json or input"))
		return
	}
	opts, err := policyOptions(c)
	if err != nil {
		abortProblem(c, err)
		return
	}
	key := c.Param("key") // of the caller's environment: rule EnvExperiment
	in, exp, err := a.svc.PolicyInput(c.Request.Context(), key, opts)
	if err != nil {
		abortProblem(c, queryProblem(err)) // features the exposures do not keep
		return
	}
	if format == "input" {
		writeJSON(c, http.StatusOK, in)
		return
	}
	out, err := policy.Learn(in)
	if err != nil {
		abortProblem(c, err)
		return
	}
	writeJSON(c, http.StatusOK, NewPolicyResponse(exp, opts, out))
}

// NewPolicyResponse is the JSON of out, learned for e with opts.
func NewPolicyResponse(e *experiments.Experiment, opts experiments.PolicyOptions, out *policy.Output) PolicyResponse {
	h := "attribution_window"
	if opts.Horizon > 0 {
		h = strconv.Itoa(int(opts.Horizon/(24*time.Hour))) + "d"
	}
	return PolicyResponse{Experiment: e.Key, Currency: e.Currency(), Horizon: h, Output: out}
}

// FollowUpRequest is the body of POST
// /api/v1/experiments/{key}/policy/experiment (every field optional).
type FollowUpRequest struct {
	Key         string   `json:"key"`
	Features    []string `json:"features"`
	Budget      *int64   `json:"budget"`
	Metric      string   `json:"metric"`
	HorizonDays int64    `json:"horizon_days"`
	Units       int64    `json:"units"`
	Folds       int      `json:"folds"`
	Weights     *struct {
		Control      float64 `json:"control"`
		BestSingle   float64 `json:"best_single"`
		Personalized float64 `json:"personalized"`
	} `json:"weights"`
}

// FollowUpResponse is the draft experiment created and the policy it
// validates.
type FollowUpResponse struct {
	Experiment ExperimentResponse `json:"experiment"`
	Policy     PolicyResponse     `json:"policy"`
}

func (a *api) createFollowUp(c *gin.Context) {
	var req FollowUpRequest
	if c.Request.ContentLength != 0 {
		if err := a.decodeBody(c, &req); err != nil {
			abortProblem(c, err)
			return
		}
	}
	key := c.Param("key") // of the caller's environment: rule EnvExperiment
	var errs experiments.ValidationErrors
	if req.HorizonDays < 0 || req.HorizonDays > 365 {
		errs = append(errs, &experiments.Error{Kind: experiments.KindInvalid, Code: "out_of_range", Field: "horizon_days",
			Message: "horizon_days must be between 0 (the attribution window) and 365"})
	}
	f := experiments.FollowUp{Key: req.Key, PolicyOptions: experiments.PolicyOptions{Features: req.Features,
		Budget: req.Budget, Metric: req.Metric, Units: req.Units, Folds: req.Folds}}
	if len(errs) == 0 {
		f.Horizon = time.Duration(req.HorizonDays) * 24 * time.Hour
	}
	f.PolicyOptions = f.WithDefaults()
	if err := optionsProblem(f.PolicyOptions, errs); err != nil {
		abortProblem(c, err)
		return
	}
	if w := req.Weights; w != nil {
		f.Weights = &[3]float64{w.Control, w.BestSingle, w.Personalized}
	}
	e, out, err := a.svc.PolicyFollowUp(c.Request.Context(), who(c), key, f)
	if err != nil {
		abortProblem(c, err)
		return
	}
	src, err := a.svc.GetExperiment(c.Request.Context(), key)
	if err != nil {
		abortProblem(c, err)
		return
	}
	c.Header("Location", "/api/v1/experiments/"+e.Key)
	writeJSON(c, http.StatusCreated, FollowUpResponse{Experiment: experimentResponse(e),
		Policy: NewPolicyResponse(src, f.PolicyOptions, out)})
}
