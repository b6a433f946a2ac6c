package experiments

import (
	"crypto/subtle"
	"time"
)

// DefaultAuthCacheTTL is how long Authenticate trusts a verified key
// without reading it from the store again (see Service.SetAuthCacheTTL).
const DefaultAuthCacheTTL = 5 * time.Second

// maxAuthCacheEntries bounds the verified keys held in memory.
const maxAuthCacheEntries = 10_000

// authCache holds verified API keys by key ID for a short TTL, so that
// Authenticate does not read the store on every request. An entry keeps
// the key's salt and derived hash: a token hits only when the hash of its
// secret equals the cached one (compared in constant time), so a wrong
// secret never authenticates from the cache. RevokeKey drops the entry at
// once; other processes over the same store notice within the TTL.
type authCache struct{ *ttlCache[authEntry] }

type authEntry struct {
	salt, hash []byte
	principal  Principal
	lastUsed   time.Time // the store's last-used time, as last known
}

func newAuthCache(ttl time.Duration) authCache {
	return authCache{newTTLCache[authEntry](ttl, maxAuthCacheEntries)}
}

// SetAuthCacheTTL sets how long a verified API key is trusted without
// reading the store again (default DefaultAuthCacheTTL); 0 or less turns
// the cache off. A key revoked through this Service stops working at once;
// one revoked through another process over the same store is still
// accepted here for up to the TTL.
func (s *Service) SetAuthCacheTTL(ttl time.Duration) { s.auth.setTTL(ttl) }

// lookup returns the principal of key id when a live entry exists and
// secret hashes to its hash. lastUsed is the entry's last-used time.
func (c authCache) lookup(id, secret string) (p Principal, lastUsed time.Time, gen uint64, ok bool) {
	e, gen, ok := c.get(id)
	if !ok || subtle.ConstantTimeCompare(hashSecret(e.salt, secret), e.hash) != 1 {
		return Principal{}, time.Time{}, gen, false
	}
	return e.principal, e.lastUsed, gen, true
}

// store caches a key verified from the store, unless an invalidation
// happened since gen was read (the key may have been revoked meanwhile).
func (c authCache) store(k *APIKey, p Principal, lastUsed time.Time, gen uint64) {
	c.put(k.ID, authEntry{salt: k.Salt, hash: k.Hash, principal: p, lastUsed: lastUsed}, gen)
}

// touched records that the store's last-used time of key id is now at.
func (c authCache) touched(id string, at time.Time) {
	c.update(id, func(e *authEntry) { e.lastUsed = at })
}
