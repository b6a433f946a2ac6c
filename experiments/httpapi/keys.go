package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/promolift/promolift/experiments"
)

// KeyRequest is the body of POST /api/v1/keys.
type KeyRequest struct {
	Name        string `json:"name"`
	Scope       string `json:"scope"`
	Environment string `json:"environment"`
}

// KeyResponse is an API key without its secret. Token is set only in the
// reply to POST /api/v1/keys: it is shown once and never stored.
type KeyResponse struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Scope       string     `json:"scope"`
	Environment string     `json:"environment,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	LastUsedAt  *time.Time `json:"last_used_at"`
	RevokedAt   *time.Time `json:"revoked_at"`
	Token       string     `json:"token,omitempty"`
}

func keyResponse(k *experiments.APIKey) KeyResponse {
	return KeyResponse{ID: k.ID, Name: k.Name, Scope: string(k.Scope), Environment: k.Environment,
		CreatedAt: k.CreatedAt.UTC(), LastUsedAt: timePtr(k.LastUsedAt), RevokedAt: timePtr(k.RevokedAt)}
}

func (a *api) createKey(c *gin.Context) {
	var req KeyRequest
	if err := a.decodeDefinition(c, &req); err != nil {
		abortProblem(c, err)
		return
	}
	if req.Scope == "" {
		abortProblem(c, experiments.Invalid("scope", "required", "is required: admin, sdk or analyst"))
		return
	}
	k, token, err := a.svc.CreateKey(c.Request.Context(), who(c), req.Name, experiments.Scope(req.Scope), req.Environment)
	if err != nil {
		abortProblem(c, err)
		return
	}
	r := keyResponse(k)
	r.Token = token
	c.Header("Cache-Control", "no-store")
	writeJSON(c, http.StatusCreated, r)
}

func (a *api) listKeys(c *gin.Context) {
	keys, err := a.svc.ListKeys(c.Request.Context(), callerEnvironment(c))
	if err != nil {
		abortProblem(c, err)
		return
	}
	writeJSON(c, http.StatusOK, gin.H{"keys": responses(keys, keyResponse)})
}

func (a *api) revokeKey(c *gin.Context) {
	if err := a.svc.RevokeKey(c.Request.Context(), who(c), c.Param("id")); err != nil {
		abortProblem(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// AuditEntryResponse is one audit log entry. before and after are the JSON
// documents of the resource around the change.
type AuditEntryResponse struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	KeyID    string    `json:"key_id"`
	Action   string    `json:"action"`
	Resource string    `json:"resource"`
	// Environment is the resource's, "" for none (customers, cap groups).
	Environment string          `json:"environment"`
	Before      json.RawMessage `json:"before,omitempty"`
	After       json.RawMessage `json:"after,omitempty"`
}

// auditEntryResponse is e as the API returns it: before and after are
// left out unless they are valid JSON.
func auditEntryResponse(e *experiments.AuditEntry) AuditEntryResponse {
	r := AuditEntryResponse{ID: e.ID, At: e.At.UTC(), KeyID: e.KeyID, Action: e.Action, Resource: e.Resource, Environment: e.Environment}
	if json.Valid(e.Before) {
		r.Before = e.Before
	}
	if json.Valid(e.After) {
		r.After = e.After
	}
	return r
}

func (a *api) listAudit(c *gin.Context) {
	limit, before := 100, int64(0)
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			abortProblem(c, badRequest("limit", "invalid_limit", "limit must be an integer between 1 and 1000"))
			return
		}
		limit = n
	}
	if s := c.Query("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			abortProblem(c, badRequest("before", "invalid_before", "before must be a positive audit entry id"))
			return
		}
		before = n
	}
	entries, err := a.svc.Audit(c.Request.Context(), limit, before, callerEnvironment(c))
	if err != nil {
		abortProblem(c, err)
		return
	}
	resp := gin.H{"entries": responses(entries, auditEntryResponse)}
	if len(entries) == limit {
		resp["next_before"] = entries[len(entries)-1].ID
	}
	writeJSON(c, http.StatusOK, resp)
}
