package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/promolift/promolift/experiments"
)

// EnvRule says how a route binds to the environment of the caller's API
// key. A key bound to an environment (staging, production, …) may act only
// within it; an unbound key acts on every environment. The rule of each
// route is a field of the route table (Routes), checked in one place,
// checkEnvironment, which every authenticating middleware calls after the
// scope check. A route without a rule is refused (New panics), so a new
// route cannot forget it. What a bound key creates or changes is bound by
// the Service itself (experiments.Principal.Sees and claim), so the
// console, which calls the Service, is held to the same rule;
// docs/security.md describes the model.
type EnvRule int

// The rules.
const (
	// envUnset is the zero rule: no route may have it.
	envUnset EnvRule = iota
	// EnvPublic: no key (health, readiness, metrics).
	EnvPublic
	// EnvCaller: the route acts within the caller's environment by
	// construction: lists are narrowed to it (listEnvironment,
	// callerEnvironment), the SDK routes read its snapshot, and what it
	// creates is bound to it by the Service.
	EnvCaller
	// EnvShared: the route reads a resource shared by every environment
	// that holds nothing of any one (a cap group).
	EnvShared
	// EnvExperiment: :key names an experiment; a bound key of another
	// environment gets the 404 of a missing one (no existence leak).
	EnvExperiment
	// EnvFlag: :key names a flag, as EnvExperiment.
	EnvFlag
	// EnvKey: :id names an API key, as EnvExperiment.
	EnvKey
	// EnvGlobal: the route acts on data of every environment (erasing a
	// customer, writing a cap group): bound keys get 403
	// environment_bound.
	EnvGlobal
	// EnvConsent: a customer's consent, which holds in every environment.
	// Any key of the route's scopes may withdraw it; reinstating it needs
	// an admin key bound to no environment (Service.SetConsent).
	EnvConsent
)

var envRuleNames = [...]string{"unset", "public", "caller", "shared", "experiment", "flag", "key", "global", "consent"}

func (r EnvRule) String() string {
	if int(r) >= 0 && int(r) < len(envRuleNames) {
		return envRuleNames[r]
	}
	return fmt.Sprintf("EnvRule(%d)", int(r))
}

// envRules maps "METHOD pattern" to the route's rule.
func envRules() map[string]EnvRule {
	m := make(map[string]EnvRule, len(routes))
	for _, r := range routes {
		m[r.Method+" "+r.Path] = r.Env
	}
	return m
}

// checkRouteRules panics when a route registered on the engine has no
// entry with a rule in the route table: a route must say how it binds to
// environments before it can serve.
func checkRouteRules(r *gin.Engine, rules map[string]EnvRule) {
	for _, ri := range r.Routes() {
		rule, ok := rules[ri.Method+" "+ri.Path]
		if !ok && ri.Method == http.MethodHead {
			rule, ok = rules[http.MethodGet+" "+ri.Path]
		}
		if !ok || rule == envUnset {
			panic(fmt.Sprintf("httpapi: route %s %s has no entry with an environment rule in the route table (see EnvRule)", ri.Method, ri.Path))
		}
	}
}

// errEnvironmentBound refuses a route of rule EnvGlobal to a bound key.
func errEnvironmentBound(env string) error {
	return &experiments.Error{Kind: experiments.KindForbidden, Code: "environment_bound",
		Message: fmt.Sprintf("this route acts on every environment; this key is bound to environment %q: use a key bound to no environment", env)}
}

// checkEnvironment applies the route's rule to the authenticated caller p.
// It returns nil when p may go on, a not-found error when the named
// resource belongs to another environment, and a forbidden error for a
// route of rule EnvGlobal. Lookups that fail with not-found let the
// handler answer as it does for a missing resource.
func (a *api) checkEnvironment(c *gin.Context, p experiments.Principal) error {
	rule := a.envRules[c.Request.Method+" "+c.FullPath()]
	if rule == envUnset {
		return fmt.Errorf("route %s %s has no environment rule", c.Request.Method, c.FullPath())
	}
	if p.Environment == "" {
		return nil
	}
	ctx := c.Request.Context()
	switch rule {
	case EnvExperiment:
		return resourceIn(ctx, p.Environment, "experiment", c.Param("key"), a.svc.GetExperiment, experimentEnvironment)
	case EnvFlag:
		return resourceIn(ctx, p.Environment, "flag", c.Param("key"), a.svc.GetFlag, flagEnvironment)
	case EnvKey:
		return resourceIn(ctx, p.Environment, "api_key", c.Param("id"), a.svc.GetKey, keyEnvironment)
	case EnvGlobal:
		return errEnvironmentBound(p.Environment)
	}
	return nil
}

// resourceIn returns nil when the resource key is of environment env or
// does not exist, and the not-found error of what otherwise.
func resourceIn[T any](ctx context.Context, env, what, key string,
	get func(context.Context, string) (*T, error), environment func(*T) string) error {
	v, err := get(ctx, key)
	if errors.Is(err, experiments.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if environment(v) != env {
		return experiments.NotFound(what, key)
	}
	return nil
}

func keyEnvironment(k *experiments.APIKey) string { return k.Environment }

// callerEnvironment is the environment the caller's key is bound to, ""
// for none: routes of rule EnvCaller narrow what they answer to it.
func callerEnvironment(c *gin.Context) string { return who(c).Environment }
