package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/promolift/promolift/experiments"
)

// The customers' rights routes (DESIGN.md §3):
//
//	PUT    /api/v1/customers/:id/consent        sdk or admin  {"promotions": false}
//	DELETE /api/v1/customers/:id                admin         erase the customer
//	PUT    /api/v1/cap-groups/:key              admin         {"max_exposures": 3, "window_hours": 168}
//	GET    /api/v1/cap-groups/:key              any scope
//	GET    /api/v1/experiments/:key/customer-limits  analyst  capped units and spend per variant

func init() {
	routes = append(routes,
		Route{"PUT", "/api/v1/customers/:id/consent", scopeSDK, EnvConsent},
		Route{"DELETE", "/api/v1/customers/:id", scopeAdmin, EnvGlobal},
		Route{"PUT", "/api/v1/cap-groups/:key", scopeAdmin, EnvGlobal},
		Route{"GET", "/api/v1/cap-groups/:key", scopeReader, EnvShared},
		Route{"GET", "/api/v1/experiments/:key/customer-limits", scopeAnalyst, EnvExperiment},
	)
}

func (a *api) registerCustomerRoutes(r *gin.Engine) {
	v1 := r.Group("/api/v1")
	v1.PUT("/customers/:id/consent", a.require(experiments.ScopeSDK), a.putConsent)
	v1.DELETE("/customers/:id", a.require(experiments.ScopeAdmin), a.eraseCustomer)
	v1.PUT("/cap-groups/:key", a.require(experiments.ScopeAdmin), a.putCapGroup)
	v1.GET("/cap-groups/:key", a.require(experiments.ScopeAdmin, experiments.ScopeAnalyst, experiments.ScopeSDK), a.getCapGroup)
	v1.GET("/experiments/:key/customer-limits", a.require(experiments.ScopeAnalyst), a.customerLimits)
}

// ConsentRequest is the body of PUT /api/v1/customers/:id/consent.
type ConsentRequest struct {
	Promotions *bool `json:"promotions"`
}

// ConsentResponse is a customer's stored consent.
type ConsentResponse struct {
	ID         string    `json:"id"`
	Promotions bool      `json:"promotions"`
	UpdatedAt  time.Time `json:"updated_at"`
}

func (a *api) putConsent(c *gin.Context) {
	var req ConsentRequest
	if err := a.decodeDefinition(c, &req); err != nil {
		abortProblem(c, err)
		return
	}
	if req.Promotions == nil {
		abortProblem(c, experiments.Invalid("promotions", "required", "is required: true to accept promotions, false to opt out"))
		return
	}
	got, err := a.svc.SetConsent(c.Request.Context(), who(c), c.Param("id"), *req.Promotions)
	if err != nil {
		abortProblem(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	writeJSON(c, http.StatusOK, ConsentResponse{ID: got.UnitID, Promotions: got.Promotions, UpdatedAt: got.UpdatedAt.UTC()})
}

// ErasureResponse reports an erasure. Subject is how the audit log names
// the customer (a keyed hash, never the ID); Units counts the units erased:
// the customer and the units linked to it (device IDs and other hash
// attributes).
type ErasureResponse struct {
	Erased  bool             `json:"erased"`
	Subject string           `json:"subject"`
	Units   int              `json:"units"`
	Rows    map[string]int64 `json:"rows"`
}

func (a *api) eraseCustomer(c *gin.Context) {
	er, err := a.svc.EraseCustomer(c.Request.Context(), who(c), c.Param("id"))
	if err != nil {
		abortProblem(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	writeJSON(c, http.StatusOK, ErasureResponse{Erased: true, Subject: er.Subject, Units: er.Units, Rows: er.Rows})
}

// CapGroupRequest is the body of PUT /api/v1/cap-groups/:key.
type CapGroupRequest struct {
	MaxExposures *int `json:"max_exposures"`
	WindowHours  *int `json:"window_hours"`
}

// CapGroupResponse is a frequency cap group.
type CapGroupResponse struct {
	Name         string    `json:"name"`
	MaxExposures int       `json:"max_exposures"`
	WindowHours  int       `json:"window_hours"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func capGroupResponse(g *experiments.CapGroup) CapGroupResponse {
	return CapGroupResponse{Name: g.Name, MaxExposures: g.MaxExposures, WindowHours: int(g.Window / time.Hour),
		CreatedAt: g.CreatedAt.UTC(), UpdatedAt: g.UpdatedAt.UTC()}
}

func (a *api) putCapGroup(c *gin.Context) {
	var req CapGroupRequest
	if err := a.decodeDefinition(c, &req); err != nil {
		abortProblem(c, err)
		return
	}
	if req.MaxExposures == nil {
		abortProblem(c, experiments.Invalid("max_exposures", "required", "is required, such as 3"))
		return
	}
	if req.WindowHours == nil {
		abortProblem(c, experiments.Invalid("window_hours", "required", "is required, such as 168 for 7 days"))
		return
	}
	hours := *req.WindowHours
	if hours < 1 || hours > int(experiments.MaxCapWindow/time.Hour) {
		abortProblem(c, experiments.Invalid("window_hours", "out_of_range", "must be between 1 and %d hours", int(experiments.MaxCapWindow/time.Hour)))
		return
	}
	g := &experiments.CapGroup{Name: c.Param("key"), MaxExposures: *req.MaxExposures, Window: time.Duration(hours) * time.Hour}
	if err := a.svc.PutCapGroup(c.Request.Context(), who(c), g); err != nil {
		abortProblem(c, err)
		return
	}
	writeJSON(c, http.StatusOK, capGroupResponse(g))
}

func (a *api) getCapGroup(c *gin.Context) {
	g, err := a.svc.GetCapGroup(c.Request.Context(), c.Param("key"))
	if err != nil {
		abortProblem(c, err)
		return
	}
	writeJSON(c, http.StatusOK, capGroupResponse(g))
}

// CustomerLimitsResponse is what customers' rights did to an experiment:
// units kept from a promotion by its frequency cap, and each variant's
// promotion spend against its budget.
type CustomerLimitsResponse struct {
	Experiment   string           `json:"experiment"`
	CapGroup     string           `json:"cap_group,omitempty"`
	CappedUnits  int64            `json:"capped_units"`
	VariantSpend map[string]int64 `json:"variant_spend"`
	Budgets      map[string]int64 `json:"budgets,omitempty"`
}

func (a *api) customerLimits(c *gin.Context) {
	ctx := c.Request.Context()
	e, err := a.svc.GetExperiment(c.Request.Context(), c.Param("key"))
	if err != nil {
		abortProblem(c, err)
		return
	}
	capped, err := a.svc.CappedUnits(ctx, e.Key)
	if err != nil {
		abortProblem(c, err)
		return
	}
	spend, err := a.svc.VariantSpend(ctx, e.Key)
	if err != nil {
		abortProblem(c, err)
		return
	}
	out := CustomerLimitsResponse{Experiment: e.Key, CapGroup: e.CapGroup, CappedUnits: capped, VariantSpend: spend}
	for _, v := range e.Variants {
		if v.Promotion.Budget > 0 {
			if out.Budgets == nil {
				out.Budgets = map[string]int64{}
			}
			out.Budgets[v.Key] = v.Promotion.Budget
		}
	}
	writeJSON(c, http.StatusOK, out)
}
