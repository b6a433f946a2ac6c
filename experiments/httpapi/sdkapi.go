package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	jsonv2 "github.com/go-json-experiment/json"

	"github.com/promolift/promolift/experiments"
)

// SSE timings.
const (
	ssePingInterval = 15 * time.Second
	// ssePollInterval is how often a stream re-checks the spec, to pass on
	// changes made through other replicas (local changes arrive at once).
	ssePollInterval = 5 * time.Second
)

// sdkRoutes documents the routes registered by registerSDKRoutes.
var sdkRoutes = []Route{
	{"POST", "/api/v1/assign", scopeSDK, EnvCaller},
	{"GET", "/api/v1/sdk/config", scopeSDK, EnvCaller},
	{"GET", "/api/v1/sdk/stream", scopeSDK, EnvCaller},
	{"POST", "/ofrep/v1/evaluate/flags/:key", scopeSDK, EnvCaller},
	{"POST", "/ofrep/v1/evaluate/flags", scopeSDK, EnvCaller},
}

func init() { routes = append(routes, sdkRoutes...) }

// registerSDKRoutes registers the routes SDKs and OpenFeature providers
// call: server-side assignment, the SDK config snapshot and its change
// stream, and the OpenFeature Remote Evaluation Protocol (OFREP).
//
// Streams end when the client goes away or the request context ends: the
// server should derive request contexts from one cancelled at shutdown
// (http.Server.BaseContext with RegisterOnShutdown).
func (a *api) registerSDKRoutes(r *gin.Engine) {
	sdk := a.require(experiments.ScopeSDK)
	v1 := r.Group("/api/v1")
	v1.POST("/assign", sdk, a.assign)
	v1.GET("/sdk/config", sdk, a.sdkConfig)
	v1.GET("/sdk/stream", sdk, a.sdkStream)

	of := r.Group("/ofrep/v1", a.ofrepAuth)
	of.POST("/evaluate/flags/:key", a.ofrepEvaluate)
	of.POST("/evaluate/flags", a.ofrepBulk)
}

// AssignRequestDTO is the body of POST /api/v1/assign.
type AssignRequestDTO struct {
	UnitID      string         `json:"unit_id"`
	Attributes  map[string]any `json:"attributes"`
	Experiments []string       `json:"experiments"`
	// LogExposure defaults to true.
	LogExposure *bool `json:"log_exposure"`
}

// AssignmentDTO is one assignment.
type AssignmentDTO struct {
	Experiment    string          `json:"experiment"`
	Variant       string          `json:"variant"`
	Value         json.RawMessage `json:"value,omitempty"`
	InExperiment  bool            `json:"in_experiment"`
	Bucket        float64         `json:"bucket"`
	HashAttribute string          `json:"hash_attribute"`
	HashValue     string          `json:"hash_value"`
	Reason        string          `json:"reason"`
}

// AssignResponse is the reply to POST /api/v1/assign.
type AssignResponse struct {
	Assignments []AssignmentDTO `json:"assignments"`
}

func (a *api) assign(c *gin.Context) {
	var req AssignRequestDTO
	if err := a.decodeBody(c, &req); err != nil {
		abortProblem(c, err)
		return
	}
	logExposure := req.LogExposure == nil || *req.LogExposure
	res, err := a.svc.Assign(c.Request.Context(), who(c), experiments.AssignRequest{
		UnitID: req.UnitID, Attributes: req.Attributes, Experiments: req.Experiments, LogExposure: logExposure})
	if err != nil {
		abortProblem(c, err)
		return
	}
	out := AssignResponse{Assignments: make([]AssignmentDTO, len(res))}
	for i, r := range res {
		out.Assignments[i] = AssignmentDTO{Experiment: r.Experiment, Variant: r.Variant, Value: r.Value,
			InExperiment: r.InExperiment, Bucket: r.Bucket, HashAttribute: r.HashAttribute,
			HashValue: r.HashValue, Reason: r.Reason}
	}
	writeJSON(c, http.StatusOK, out)
}

// quoteETag makes a strong entity tag.
func quoteETag(etag string) string { return `"` + etag + `"` }

// etagMatches reports whether the If-None-Match header value matches etag
// (weak comparison, as RFC 9110 prescribes for If-None-Match).
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		t = strings.TrimPrefix(t, "W/")
		if t == quoteETag(etag) || t == etag {
			return true
		}
	}
	return false
}

func (a *api) sdkConfig(c *gin.Context) {
	body, etag, err := a.svc.SDKConfig(c.Request.Context(), who(c).Environment)
	if err != nil {
		abortProblem(c, err)
		return
	}
	c.Header("ETag", quoteETag(etag))
	c.Header("Cache-Control", "private, no-cache")
	a.ops.sdkConfigServed(who(c).Environment, etag, etagMatches(c.GetHeader("If-None-Match"), etag))
	if etagMatches(c.GetHeader("If-None-Match"), etag) {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
}

// sdkStream sends server-sent events: "config" with the spec version at
// connect and after every change, and a comment every 15 s.
// A key keeps at most Config.MaxStreamsPerKey streams open: the count is
// taken before anything is written and given back when the stream ends.
func (a *api) sdkStream(c *gin.Context) {
	ctx := c.Request.Context()
	p := who(c)
	if !a.streams.acquire(p.KeyID) {
		writeProblem(c, &Problem{Status: http.StatusTooManyRequests, Code: "stream_limit",
			Detail: fmt.Sprintf("this key already has %d config streams open; close one first", a.streams.max)})
		c.Abort()
		return
	}
	defer a.streams.release(p.KeyID)
	env := p.Environment
	changes, cancel := a.svc.Subscribe()
	defer cancel()
	_, etag, err := a.svc.SDKSpec(ctx, env)
	if err != nil {
		abortProblem(c, err)
		return
	}
	// A stream outlives the server's write timeout, if it has one.
	_ = http.NewResponseController(c.Writer).SetWriteDeadline(time.Time{})
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	send := func(msg string) bool {
		if _, err := c.Writer.WriteString(msg); err != nil {
			return false
		}
		c.Writer.Flush()
		return true
	}
	event := func(etag string) string {
		b, _ := json.Marshal(map[string]string{"version": etag})
		return "event: config\ndata: " + string(b) + "\n\n"
	}
	if !send(event(etag)) {
		return
	}
	ping := time.NewTicker(ssePingInterval)
	defer ping.Stop()
	poll := time.NewTicker(ssePollInterval)
	defer poll.Stop()
	check := func() bool {
		_, now, err := a.svc.SDKSpec(ctx, env)
		if err != nil {
			return ctx.Err() == nil // keep the stream through a store hiccup
		}
		if now == etag {
			return true
		}
		etag = now
		return send(event(etag))
	}
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-changes:
			if !ok || !check() {
				return
			}
		case <-poll.C:
			if !check() {
				return
			}
		case <-ping.C:
			if !send(": ping\n\n") {
				return
			}
		}
	}
}

// OFREP wire types.

// OFREPRequest is the body of both OFREP evaluation routes.
type OFREPRequest struct {
	Context json.RawMessage `json:"context"`
}

// OFREPSuccess is a successful OFREP evaluation.
type OFREPSuccess struct {
	Key      string          `json:"key"`
	Value    json.RawMessage `json:"value"`
	Reason   string          `json:"reason"`
	Variant  string          `json:"variant,omitempty"`
	Metadata map[string]any  `json:"metadata"`
}

// OFREPFailure is a failed OFREP evaluation (Key is empty for a bulk
// request that failed as a whole).
type OFREPFailure struct {
	Key          string `json:"key,omitempty"`
	ErrorCode    string `json:"errorCode"`
	ErrorDetails string `json:"errorDetails,omitempty"`
}

// OFREPBulkResponse is the reply to a bulk evaluation: one OFREPSuccess or
// OFREPFailure per flag.
type OFREPBulkResponse struct {
	Flags []any `json:"flags"`
}

// OFREP error codes.
const (
	ofrepParseError   = "PARSE_ERROR"
	ofrepInvalid      = "INVALID_CONTEXT"
	ofrepNoTargetKey  = "TARGETING_KEY_MISSING"
	ofrepFlagNotFound = "FLAG_NOT_FOUND"
	ofrepGeneral      = "GENERAL"
)

// ofrepGeneralError writes OFREP's general error response.
func ofrepGeneralError(c *gin.Context, status int, detail string) {
	if status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="promolift"`)
	}
	c.AbortWithStatusJSON(status, gin.H{"errorDetails": detail})
}

// ofrepAuth authenticates an OFREP request by "Authorization: Bearer" or
// "X-API-Key" and requires the sdk (or admin) scope.
func (a *api) ofrepAuth(c *gin.Context) {
	token := ""
	if scheme, t, ok := strings.Cut(c.GetHeader("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		token = strings.TrimSpace(t)
	}
	if token == "" {
		token = strings.TrimSpace(c.GetHeader("X-API-Key"))
	}
	if token == "" {
		ofrepGeneralError(c, http.StatusUnauthorized, "an API key is needed: Authorization: Bearer <key> or X-API-Key: <key>")
		return
	}
	p, err := a.svc.Authenticate(c.Request.Context(), token)
	if err != nil {
		status := statusOf(experiments.KindOf(err))
		if status == http.StatusUnauthorized {
			if a.authFailed(c, true) {
				return
			}
			ofrepGeneralError(c, status, "missing, unknown or revoked API key")
			return
		}
		c.Set(ctxErr, err)
		ofrepGeneralError(c, status, "the service is temporarily unavailable")
		return
	}
	c.Set(ctxPrincipal, p)
	if !a.rateLimit(c, p, true) {
		return
	}
	if !p.Scope.Allows(experiments.ScopeSDK) {
		ofrepGeneralError(c, http.StatusForbidden, "OFREP needs a key with scope sdk or admin; this key has scope "+string(p.Scope))
		return
	}
	if err := a.checkEnvironment(c, p); err != nil {
		c.Set(ctxErr, err)
		ofrepGeneralError(c, statusOf(experiments.KindOf(err)), "this key may not call this route")
		return
	}
	c.Next()
}

// ofrepContext reads the evaluation context of an OFREP request and
// returns the attributes to evaluate: the context, with the targetingKey
// as the attribute "id" unless the context has one. An empty body is an
// empty context. The failure has no key.
func (a *api) ofrepContext(c *gin.Context) (attrs map[string]any, fail *OFREPFailure, status int) {
	data, err := a.readBody(c, true)
	if err != nil {
		var p *Problem
		if errors.As(err, &p) && p.Code == "empty_body" {
			data = []byte(`{}`)
		} else if errors.As(err, &p) && p.Status == http.StatusRequestEntityTooLarge {
			return nil, &OFREPFailure{ErrorCode: ofrepParseError, ErrorDetails: p.Detail}, http.StatusRequestEntityTooLarge
		} else {
			return nil, &OFREPFailure{ErrorCode: ofrepParseError, ErrorDetails: err.Error()}, http.StatusBadRequest
		}
	}
	var req OFREPRequest
	if errs := decodeJSON(data, &req, lenient); len(errs) > 0 {
		detail := errs[0].Detail
		if errs[0].Field == "body" {
			detail = `the body must be a JSON object {"context": {...}}: ` + detail
		}
		return nil, &OFREPFailure{ErrorCode: ofrepParseError, ErrorDetails: detail}, http.StatusBadRequest
	}
	attrs = map[string]any{}
	if t := strings.TrimSpace(string(req.Context)); t != "" && t != "null" {
		if err := jsonv2.Unmarshal(req.Context, &attrs); err != nil || attrs == nil {
			return nil, &OFREPFailure{ErrorCode: ofrepInvalid, ErrorDetails: "context must be a JSON object"}, http.StatusBadRequest
		}
	}
	if tk, ok := attrs[experiments.TargetingKeyAttribute]; ok && tk != nil {
		s, isString := tk.(string)
		if !isString {
			return nil, &OFREPFailure{ErrorCode: ofrepInvalid, ErrorDetails: "context.targetingKey must be a string"}, http.StatusBadRequest
		}
		if len(s) > experiments.MaxUnitIDLen {
			return nil, &OFREPFailure{ErrorCode: ofrepInvalid,
				ErrorDetails: fmt.Sprintf("context.targetingKey must be at most %d bytes", experiments.MaxUnitIDLen)}, http.StatusBadRequest
		}
		if _, has := attrs[experiments.DefaultUnitAttribute]; !has && s != "" {
			attrs[experiments.DefaultUnitAttribute] = s
		}
	}
	return attrs, nil, 0
}

// ofrepError maps a domain error of one flag to an OFREP failure.
func (a *api) ofrepError(c *gin.Context, key string, err error) (OFREPFailure, int) {
	var de *experiments.Error
	switch {
	case errors.As(err, &de) && de.Code == experiments.ErrTargetingKeyMissing.Code:
		return OFREPFailure{Key: key, ErrorCode: ofrepNoTargetKey, ErrorDetails: de.Message}, http.StatusBadRequest
	case experiments.KindOf(err) == experiments.KindNotFound:
		return OFREPFailure{Key: key, ErrorCode: ofrepFlagNotFound, ErrorDetails: fmt.Sprintf("no flag or running experiment %q", key)}, http.StatusNotFound
	case experiments.KindOf(err) == experiments.KindInvalid:
		return OFREPFailure{Key: key, ErrorCode: ofrepInvalid, ErrorDetails: err.Error()}, http.StatusBadRequest
	}
	c.Set(ctxErr, err)
	return OFREPFailure{Key: key, ErrorCode: ofrepGeneral, ErrorDetails: "the flag could not be evaluated"}, statusOf(experiments.KindOf(err))
}

func ofrepSuccess(ev *experiments.FlagEvaluation) OFREPSuccess {
	md := ev.Metadata
	if md == nil {
		md = map[string]any{}
	}
	return OFREPSuccess{Key: ev.Key, Value: ev.Value, Reason: ev.Reason, Variant: ev.Variant, Metadata: md}
}

func (a *api) ofrepEvaluate(c *gin.Context) {
	key := c.Param("key")
	attrs, fail, status := a.ofrepContext(c)
	if fail != nil {
		fail.Key = key
		c.JSON(status, fail)
		return
	}
	ev, err := a.svc.EvaluateFlag(c.Request.Context(), who(c), key, attrs)
	if err != nil {
		f, status := a.ofrepError(c, key, err)
		if status >= 500 {
			c.JSON(status, gin.H{"errorDetails": f.ErrorDetails})
			return
		}
		c.JSON(status, f)
		return
	}
	c.JSON(http.StatusOK, ofrepSuccess(ev))
}

// bulkETag is the ETag of a bulk evaluation answer body for the context
// ctxJSON. It is computed from the answer itself, not from the spec: a
// customer's budget, consent, frequency cap, segment or sticky assignment
// can change the answer while the spec stays the same.
func bulkETag(ctxJSON, body []byte) string {
	h := sha256.New()
	h.Write(ctxJSON)
	h.Write([]byte{0})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// ofrepBulk evaluates every flag for the context. It is a prefetch and
// logs no exposures (DESIGN.md §10) unless the query asks for them with
// log_exposures=true; then the evaluation and its exposures happen for
// every request, conditional ones included: the client that gets 304 goes
// on showing the same answer.
func (a *api) ofrepBulk(c *gin.Context) {
	logExposures := false
	if v, ok := c.GetQuery("log_exposures"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			c.JSON(http.StatusBadRequest, OFREPFailure{ErrorCode: ofrepInvalid,
				ErrorDetails: "log_exposures: must be true or false"})
			return
		}
		logExposures = b
	}
	attrs, fail, status := a.ofrepContext(c)
	if fail != nil {
		c.JSON(status, fail)
		return
	}
	ctxJSON, _ := json.Marshal(attrs) // map keys are sorted: a canonical form, for the ETag
	evaluate := a.svc.EvaluateFlags
	if logExposures {
		evaluate = a.svc.EvaluateFlagsLogged
	}
	evs, _, err := evaluate(c.Request.Context(), who(c), attrs)
	if err != nil {
		c.Set(ctxErr, err)
		ofrepGeneralError(c, statusOf(experiments.KindOf(err)), "the flags could not be evaluated")
		return
	}
	out := OFREPBulkResponse{Flags: make([]any, 0, len(evs))}
	for _, ev := range evs {
		if ev.Err != nil {
			f, _ := a.ofrepError(c, ev.Key, ev.Err)
			out.Flags = append(out.Flags, f)
			continue
		}
		out.Flags = append(out.Flags, ofrepSuccess(ev))
	}
	body, err := json.Marshal(out)
	if err != nil {
		c.Set(ctxErr, err)
		ofrepGeneralError(c, http.StatusInternalServerError, "the flags could not be encoded")
		return
	}
	etag := bulkETag(ctxJSON, body)
	c.Header("ETag", quoteETag(etag))
	if etagMatches(c.GetHeader("If-None-Match"), etag) {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
}
