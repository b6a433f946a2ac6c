package experiments

import (
	"context"
	"fmt"
	"time"
)

// DefaultConsentCacheTTL is how long Assign and the OFREP evaluation
// (EvaluateFlag, EvaluateFlags) trust a unit's consent read from the store
// (see Service.SetConsentCacheTTL).
const DefaultConsentCacheTTL = 5 * time.Second

// maxConsentCacheEntries bounds the units whose consent is held in memory.
const maxConsentCacheEntries = 10_000

// SetConsentCacheTTL sets how long Assign and the OFREP evaluation trust
// a unit's consent read from the store (default DefaultConsentCacheTTL); 0
// or less turns the cache off. Consent changed through this Service
// applies at once; consent changed through another process over the same
// store applies here within the TTL.
func (s *Service) SetConsentCacheTTL(ttl time.Duration) { s.consent.setTTL(ttl) }

// unitOptedOut reports whether unit opted out of promotions, from the
// cache or the store. SetConsent and EraseCustomer drop the unit's entry at
// once (consentChanged).
func (s *Service) unitOptedOut(ctx context.Context, cs CustomerStore, unit string) (bool, error) {
	optedOut, gen, hit := s.consent.get(unit)
	if hit {
		return optedOut, nil
	}
	out, err := cs.OptedOut(ctx, []string{unit})
	if err != nil {
		return false, fmt.Errorf("read consent: %w", err)
	}
	s.consent.put(unit, out[unit], gen)
	return out[unit], nil
}

// consentChanged drops unit's cached consent.
func (s *Service) consentChanged(unit string) { s.consent.invalidate(unit) }
