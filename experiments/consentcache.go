package experiments

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// DefaultConsentCacheTTL is how long Assign trusts a unit's consent read
// from the store (see Service.SetConsentCacheTTL).
const DefaultConsentCacheTTL = 5 * time.Second

// maxConsentCacheEntries bounds the units whose consent is held in memory.
const maxConsentCacheEntries = 10_000

// consentCache holds per-unit "opted out" answers for a short TTL, so that
// Assign does not query the store for a unit seen in the last seconds.
// SetConsent and EraseCustomer drop the unit's entry at once; changes made
// by other processes over the same store are seen within the TTL.
type consentCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	gen     uint64 // bumped by every invalidation
	entries map[string]consentEntry
}

type consentEntry struct {
	optedOut bool
	expires  time.Time // on the monotonic clock
}

// SetConsentCacheTTL sets how long Assign trusts a unit's consent read
// from the store (default DefaultConsentCacheTTL); 0 or less turns the
// cache off. Consent changed through this Service applies at once; consent
// changed through another process over the same store applies here within
// the TTL.
func (s *Service) SetConsentCacheTTL(ttl time.Duration) {
	c := &s.consent
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ttl = ttl
	c.gen++
	c.entries = nil
}

// unitOptedOut reports whether unit opted out of promotions, from the
// cache or the store.
func (s *Service) unitOptedOut(ctx context.Context, cs CustomerStore, unit string) (bool, error) {
	c := &s.consent
	c.mu.Lock()
	e, hit := c.entries[unit]
	if hit && !time.Now().Before(e.expires) {
		delete(c.entries, unit)
		hit = false
	}
	gen := c.gen
	c.mu.Unlock()
	if hit {
		return e.optedOut, nil
	}
	out, err := cs.OptedOut(ctx, []string{unit})
	if err != nil {
		return false, fmt.Errorf("read consent: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ttl <= 0 || c.gen != gen {
		return out[unit], nil
	}
	if c.entries == nil {
		c.entries = map[string]consentEntry{}
	}
	if _, ok := c.entries[unit]; !ok && len(c.entries) >= maxConsentCacheEntries {
		now := time.Now()
		for u, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, u)
			}
		}
		for u := range c.entries { // still full: drop an arbitrary entry
			if len(c.entries) < maxConsentCacheEntries {
				break
			}
			delete(c.entries, u)
		}
	}
	c.entries[unit] = consentEntry{optedOut: out[unit], expires: time.Now().Add(c.ttl)}
	return out[unit], nil
}

// consentChanged drops unit's cached consent.
func (s *Service) consentChanged(unit string) {
	c := &s.consent
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.entries, unit)
}
