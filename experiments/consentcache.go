package experiments

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/promolift/promolift/assign"
)

// DefaultConsentCacheTTL is how long Assign and the OFREP evaluation
// (EvaluateFlag, EvaluateFlags) trust a unit's consent read from the store
// (see Service.SetConsentCacheTTL).
const DefaultConsentCacheTTL = 5 * time.Second

// maxConsentCacheEntries bounds the units whose consent is held in memory.
const maxConsentCacheEntries = 10_000

// maxOptOutSet bounds the opted-out units held as one set: with more, the
// consent of each unit is read from the store.
const maxOptOutSet = 100_000

// OptOutLister is an optional store capability (both stores have it):
// every unit that opted out of promotions in one read, so that the consent
// of a customer never seen before costs no store read of its own.
type OptOutLister interface {
	// AllOptedOut returns every unit that opted out, or complete false
	// when there are more than limit.
	AllOptedOut(ctx context.Context, limit int) (units []string, complete bool, err error)
}

// optOutSet is the set of every opted-out unit, read at most once per
// consent TTL: the negative cache of consent. A unit not in a fresh,
// complete set has not opted out (as of the read, like a cached entry).
type optOutSet struct {
	mu       sync.Mutex
	units    map[string]bool
	complete bool
	fresh    time.Time // when the set stops being fresh (monotonic); zero: stale
	gen      uint64    // bumped by every local consent change
}

// lookup answers from a fresh complete set read within ttl, reloading a
// stale one (one reader at a time; the others wait for it). ok is false
// when the set cannot answer: too many opted-out units, or a failed read
// (which the per-unit read will report).
func (o *optOutSet) lookup(ctx context.Context, l OptOutLister, ttl time.Duration, unit string) (optedOut, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if time.Now().After(o.fresh) {
		gen := o.gen
		units, complete, err := l.AllOptedOut(ctx, maxOptOutSet)
		if err != nil {
			return false, false
		}
		o.units, o.complete = make(map[string]bool, len(units)), complete
		for _, u := range units {
			o.units[u] = true
		}
		o.fresh = time.Time{}
		if gen == o.gen {
			o.fresh = time.Now().Add(ttl)
		}
	}
	if !o.complete {
		return false, false
	}
	return o.units[unit], true
}

// changed makes the set stale: a local consent change applies at once.
func (o *optOutSet) changed() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.gen++
	o.fresh = time.Time{}
}

// SetConsentCacheTTL sets how long Assign and the OFREP evaluation trust
// a unit's consent read from the store (default DefaultConsentCacheTTL); 0
// or less turns the cache off. Consent changed through this Service
// applies at once; consent changed through another process over the same
// store applies here within the TTL.
func (s *Service) SetConsentCacheTTL(ttl time.Duration) {
	s.consent.setTTL(ttl)
	s.optOuts.changed()
}

// unitOptedOut reports whether unit opted out of promotions, from the
// cache or the store. SetConsent and EraseCustomer drop the unit's entry at
// once (consentChanged).
func (s *Service) unitOptedOut(ctx context.Context, cs CustomerStore, unit string) (bool, error) {
	optedOut, gen, hit := s.consent.get(unit)
	if hit {
		return optedOut, nil
	}
	if l, ok := cs.(OptOutLister); ok && s.consentTTL() > 0 {
		if out, ok := s.optOuts.lookup(ctx, l, s.consentTTL(), unit); ok {
			return out, nil
		}
	}
	out, err := cs.OptedOut(ctx, []string{unit})
	if err != nil {
		return false, fmt.Errorf("read consent: %w", err)
	}
	s.consent.put(unit, out[unit], gen)
	return out[unit], nil
}

// consentChanged drops unit's cached consent and makes the opted-out set
// stale.
func (s *Service) consentChanged(unit string) {
	s.consent.invalidate(unit)
	s.optOuts.changed()
	s.changed() // the SDK config lists the opt-outs (sdkOptOuts)
}

// consentTTL is the TTL of the consent caches.
func (s *Service) consentTTL() time.Duration {
	s.consent.mu.Lock()
	defer s.consent.mu.Unlock()
	return s.consent.ttl
}

// MaxSDKOptOuts bounds the opted-out units listed in the SDK config: with
// more, the list is marked incomplete and SDKs give control to every unit
// of an experiment that can give a promotion (reason consent unknown).
const MaxSDKOptOuts = 10_000

// sdkOptOuts lists the opted-out units for the SDK config, each as the
// assign.OptOutHash of its ID under a salt derived from the customer
// secret (stable across replicas, so the config's ETag is too). Nil when
// the store cannot list them: SDKs then treat every unit's consent as
// unknown.
func (s *Service) sdkOptOuts(ctx context.Context) (*assign.OptOuts, error) {
	l, ok := s.store.(OptOutLister)
	cs, ok2 := s.store.(CustomerStore)
	if !ok || !ok2 {
		return nil, nil
	}
	units, complete, err := l.AllOptedOut(ctx, MaxSDKOptOuts)
	if err != nil {
		return nil, fmt.Errorf("list opt-outs: %w", err)
	}
	if complete && len(units) == 0 {
		// Nothing to hash: no salt, and no customer secret created by a read.
		return assign.NewOptOuts(DefaultUnitAttribute, "", nil, true), nil
	}
	secret, err := cs.CustomerSecret(ctx)
	if err != nil {
		return nil, fmt.Errorf("customer secret: %w", err)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("sdk-opt-out-salt"))
	salt := hex.EncodeToString(mac.Sum(nil)[:16])
	return assign.NewOptOuts(DefaultUnitAttribute, salt, units, complete), nil
}
