package experiments

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Scope is what an API key may do.
type Scope string

// The scopes: admin defines and changes experiments, flags and keys; sdk
// reads the SDK config, assigns and sends events; analyst reads reports.
const (
	ScopeAdmin   Scope = "admin"
	ScopeSDK     Scope = "sdk"
	ScopeAnalyst Scope = "analyst"
)

// ParseScope checks s.
func ParseScope(s string) (Scope, error) {
	switch Scope(s) {
	case ScopeAdmin, ScopeSDK, ScopeAnalyst:
		return Scope(s), nil
	}
	return "", Invalid("scope", "unknown_scope", "must be admin, sdk or analyst")
}

// Allows reports whether a key of scope k may act with scope need. Admin
// keys may do everything; analyst keys may not send events.
func (k Scope) Allows(need Scope) bool {
	return k == need || k == ScopeAdmin
}

// APIKey is a stored API key. The secret is never stored: Hash is
// SHA-256(Salt ‖ secret). A key's token, shown to its owner once, is
// "pl_" + ID + "_" + secret.
type APIKey struct {
	ID          string
	Name        string
	Scope       Scope
	Environment string // for sdk keys: the only environment they see; "" = all
	Salt        []byte
	Hash        []byte
	CreatedAt   time.Time
	LastUsedAt  time.Time // zero if never used
	RevokedAt   time.Time // zero if active
}

// Revoked reports whether the key was revoked.
func (k *APIKey) Revoked() bool { return !k.RevokedAt.IsZero() }

const tokenPrefix = "pl_"

// NewAPIKey makes a key with a random ID, salt and secret, and returns it
// with its token. The token is the only place the secret exists.
func NewAPIKey(name string, scope Scope, env string, now time.Time) (*APIKey, string, error) {
	id, err := randomHex(6)
	if err != nil {
		return nil, "", err
	}
	salt := make([]byte, 16)
	secretBytes := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return nil, "", err
	}
	if _, err := rand.Read(secretBytes); err != nil {
		return nil, "", err
	}
	secret := base64.RawURLEncoding.EncodeToString(secretBytes)
	return keyWithSecret(id, name, scope, env, salt, secret, now), tokenPrefix + id + "_" + secret, nil
}

// APIKeyFromToken builds the stored form of a key whose token was chosen
// by the operator (PROMOLIFT_ADMIN_KEY). The token must be at least 16
// characters; its ID is derived from it.
func APIKeyFromToken(token, name string, scope Scope, now time.Time) (*APIKey, error) {
	if err := CheckToken(token); err != nil {
		return nil, err
	}
	id, secret, _ := SplitToken(token)
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	return keyWithSecret(id, name, scope, "", salt, secret, now), nil
}

// CheckToken reports whether an operator's token (PROMOLIFT_ADMIN_KEY) has
// the form of a key, without any store: callers check it before they open
// or write anything.
func CheckToken(token string) error {
	if len(token) < 16 {
		return Invalid("PROMOLIFT_ADMIN_KEY", "too_short", "must be at least 16 characters")
	}
	if _, _, ok := SplitToken(token); !ok {
		return Invalid("PROMOLIFT_ADMIN_KEY", "bad_format",
			"must look like pl_<id>_<secret> with an id of 4-32 letters or digits and a secret of at least 16 characters (or leave it unset to have one generated)")
	}
	return nil
}

func keyWithSecret(id, name string, scope Scope, env string, salt []byte, secret string, now time.Time) *APIKey {
	return &APIKey{ID: id, Name: name, Scope: scope, Environment: env, Salt: salt,
		Hash: hashSecret(salt, secret), CreatedAt: now.UTC()}
}

// SplitToken splits a token "pl_<id>_<secret>" into its id and secret.
func SplitToken(token string) (id, secret string, ok bool) {
	rest, found := strings.CutPrefix(token, tokenPrefix)
	if !found {
		return "", "", false
	}
	id, secret, found = strings.Cut(rest, "_")
	if !found || len(id) < 4 || len(id) > 32 || len(secret) < 16 {
		return "", "", false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return "", "", false
		}
	}
	return id, secret, true
}

// Matches reports, in constant time, whether secret is this key's secret.
func (k *APIKey) Matches(secret string) bool {
	return subtle.ConstantTimeCompare(hashSecret(k.Salt, secret), k.Hash) == 1
}

func hashSecret(salt []byte, secret string) []byte {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(secret))
	return h.Sum(nil)
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// Principal is the authenticated caller of a request.
type Principal struct {
	KeyID       string
	Scope       Scope
	Environment string
}

// Sees reports whether p may act on a resource of environment env: a key
// bound to an environment acts only within it (docs/security.md).
func (p Principal) Sees(env string) bool { return p.Environment == "" || p.Environment == env }

// claim binds the environment *env of something p creates or changes to
// p's: a bound key's creation names its environment or none (it is then
// filled in); any other is refused with 403 environment_bound. Every
// Service method that writes a resource of an environment calls it, so
// every transport (the API, the console) is held to the same rule.
func (p Principal) claim(env *string) error {
	if p.Environment == "" {
		return nil
	}
	if *env != "" && *env != p.Environment {
		return &Error{Kind: KindForbidden, Code: "environment_bound", Field: "environment",
			Message: fmt.Sprintf("this key is bound to environment %q and cannot act on %q", p.Environment, *env)}
	}
	*env = p.Environment
	return nil
}
