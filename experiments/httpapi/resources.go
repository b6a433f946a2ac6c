package httpapi

import (
	"github.com/gin-gonic/gin"

	"github.com/promolift/promolift/experiments"
)

// This file holds what the handlers of the stored resources (experiments,
// flags, API keys, the audit log) do alike: narrowing a list to the
// caller's environment, turning a list into its responses, hiding what
// belongs to another environment, and checking the key of a PUT body.

// listEnvironment is the environment a list request asks for (its
// ?environment= query, "" for all) narrowed to the one the caller's API key
// is bound to, if any. ok is false when the query names another environment
// than the key's: the answer is then an empty list.
func listEnvironment(c *gin.Context) (env string, ok bool) {
	env = c.Query("environment")
	if p := who(c); p.Environment != "" {
		if env != "" && env != p.Environment {
			return "", false
		}
		env = p.Environment
	}
	return env, true
}

// responses converts each item of list with response. It never returns
// nil, so that an empty list is sent as [] rather than null.
func responses[T, R any](list []T, response func(T) R) []R {
	out := make([]R, 0, len(list))
	for _, v := range list {
		out = append(out, response(v))
	}
	return out
}

// decodeUpdate decodes the body of a PUT to the resource named by the
// URL's key into req, whose own key field is bodyKey. That field may be
// left out, and is then set to the URL's key; any other key is an error,
// since keys cannot be renamed.
func (a *api) decodeUpdate(c *gin.Context, req any, bodyKey *string) error {
	if err := a.decodeDefinition(c, req); err != nil {
		return err
	}
	key := c.Param("key")
	if *bodyKey != "" && *bodyKey != key {
		return experiments.Invalid("key", "key_mismatch", "the body's key %q differs from the URL's %q; keys cannot be renamed", *bodyKey, key)
	}
	*bodyKey = key
	return nil
}
