package experiments

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/promolift/promolift/assign"
)

// Customers' rights (DESIGN.md §3). A customer is a unit: the value of the
// unit attribute "id" (what AssignRequest.UnitID and Event.UnitID carry).

// The reasons of an assignment that a customer's rights turned into the
// no-promotion answer (control, InExperiment false, no exposure stored).
const (
	ReasonOptedOut        = "opted_out"
	ReasonFrequencyCapped = "frequency_capped"
	ReasonBudgetExhausted = "budget_exhausted"
)

// ErrOptedOut is the rejection (KindInvalid, code "opted_out") of an
// exposure of a customer who opted out of promotions.
var ErrOptedOut = &Error{Kind: KindInvalid, Code: "opted_out", Field: "unit_id",
	Message: "the customer opted out of promotions; the exposure is not stored"}

// Consent is a customer's promotion consent. A customer without a stored
// consent accepts promotions.
type Consent struct {
	UnitID     string
	Promotions bool
	UpdatedAt  time.Time
}

// CapGroup is a frequency cap shared by the experiments whose CapGroup
// names it: at most MaxExposures promotion exposures (exposures to a
// variant whose promotion is not "none") per customer within Window.
type CapGroup struct {
	Name         string
	MaxExposures int
	Window       time.Duration
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Limits of cap groups.
const (
	MaxCapExposures = 1_000_000
	MaxCapWindow    = 366 * 24 * time.Hour
)

// Validate checks a cap group; the error names the field.
func (g *CapGroup) Validate() error {
	switch {
	case !ValidKey(g.Name):
		return Invalid("name", "invalid_key", "must be a key such as promos (letters, digits, '_', '-', '.')")
	case g.MaxExposures < 1 || g.MaxExposures > MaxCapExposures:
		return Invalid("max_exposures", "out_of_range", "must be between 1 and %d", MaxCapExposures)
	case g.Window < time.Hour || g.Window > MaxCapWindow:
		return Invalid("window_hours", "out_of_range", "must be between 1 and %d hours", int(MaxCapWindow/time.Hour))
	}
	return nil
}

// ExperimentVariant names one variant of one experiment.
type ExperimentVariant struct {
	Experiment string
	Variant    string
}

// CustomerStore is what a store provides for customers' rights. Both
// stores implement it; the Service finds it by a type assertion on its
// Store, and without it the rights features are unavailable (Assign then
// applies none of them).
type CustomerStore interface {
	// SetConsent stores (replaces) a customer's consent.
	SetConsent(ctx context.Context, c *Consent) error
	// OptedOut returns the units of units that opted out of promotions.
	OptedOut(ctx context.Context, units []string) (map[string]bool, error)
	// PutCapGroup creates or replaces a cap group (keeping CreatedAt of
	// an existing one, which it writes back into g).
	PutCapGroup(ctx context.Context, g *CapGroup) error
	// GetCapGroup returns a cap group or a KindNotFound error.
	GetCapGroup(ctx context.Context, name string) (*CapGroup, error)
	// CountExposures counts the stored exposure events of unit to any of
	// pairs at or after since.
	CountExposures(ctx context.Context, unit string, pairs []ExperimentVariant, since time.Time) (int, error)
	// HasEvent reports whether an event with this ID is stored.
	HasEvent(ctx context.Context, id string) (bool, error)
	// RecordCapped counts unit as frequency-capped in experiment.
	RecordCapped(ctx context.Context, experiment, unit string, at time.Time) error
	// CappedUnits returns how many distinct units a frequency cap kept
	// from a promotion of experiment.
	CappedUnits(ctx context.Context, experiment string) (int64, error)
	// VariantSpend returns the promotion spend per variant of experiment
	// in minor units: the recorded promotion cost of the attributed
	// conversions of the units first exposed to it, erased customers
	// included. Variants without spend are absent.
	VariantSpend(ctx context.Context, experiment string) (map[string]int64, error)
	// CustomerSecret returns the installation's secret for hashing
	// customer IDs, creating it on first use.
	CustomerSecret(ctx context.Context) ([]byte, error)
	// EraseCustomer deletes, in one transaction, every row about unit and
	// about every unit linked to it (LinkUnits, and the links of ingested
	// events): raw events, rollups, customer aggregates, consent, capped
	// units, sticky docs, the links themselves, and any other row of a
	// table with a unit_id or customer_id column that is one of those
	// units. It keeps their promotion cost in the anonymous erased_spend,
	// appends audit (which must not contain a unit; its After gets the
	// counts) and returns the rows deleted per table and how many units
	// (unit and the linked ones) were erased.
	EraseCustomer(ctx context.Context, unit string, audit *AuditEntry) (rows map[string]int64, units int, err error)
	// LinkUnits records links (idempotently): each link's unit belongs to
	// its customer, so erasing the customer erases the unit (links.go).
	LinkUnits(ctx context.Context, links []UnitLink) error
}

// errNoCustomerStore is returned when the store lacks customer features.
var errNoCustomerStore = &Error{Kind: KindUnavailable, Code: "not_supported",
	Message: "this store does not support customers' rights"}

func (s *Service) customerStore() (CustomerStore, error) {
	cs, ok := s.store.(CustomerStore)
	if !ok {
		return nil, errNoCustomerStore
	}
	return cs, nil
}

func validCustomerID(unit string) error {
	if unit == "" {
		return Invalid("id", "required", "a customer ID is required")
	}
	if len(unit) > MaxUnitIDLen || !utf8.ValidString(unit) {
		return Invalid("id", "invalid", "must be valid UTF-8 of at most %d bytes", MaxUnitIDLen)
	}
	return nil
}

// CustomerHash is how a customer appears in the audit log: the hex
// HMAC-SHA256 of the ID under the installation's secret, so that the same
// customer is recognisable across entries but the ID is not stored.
func (s *Service) CustomerHash(ctx context.Context, unit string) (string, error) {
	cs, err := s.customerStore()
	if err != nil {
		return "", err
	}
	secret, err := cs.CustomerSecret(ctx)
	if err != nil {
		return "", fmt.Errorf("customer secret: %w", err)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(unit))
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil)), nil
}

// SetConsent records whether a customer accepts promotions. The audit log
// names the customer by CustomerHash only.
//
// Who may: any key of scope sdk or admin, bound to an environment or not,
// may withdraw consent (promotions false): it only stops promotions, and
// it is what an app relays from the customer. Reinstating it (true) sends
// promotions to someone who refused them, so it needs an admin key bound
// to no environment (a customer's consent holds in every environment), or
// the system itself (the zero Principal: the command line).
func (s *Service) SetConsent(ctx context.Context, who Principal, unit string, promotions bool) (*Consent, error) {
	if err := validCustomerID(unit); err != nil {
		return nil, err
	}
	if promotions && who != (Principal{}) && (who.Scope != ScopeAdmin || who.Environment != "") {
		return nil, &Error{Kind: KindForbidden, Code: "consent_grant_needs_admin", Field: "promotions",
			Message: "only an admin key bound to no environment may reinstate a customer's consent; any sdk or admin key may withdraw it"}
	}
	cs, err := s.customerStore()
	if err != nil {
		return nil, err
	}
	c := &Consent{UnitID: unit, Promotions: promotions, UpdatedAt: s.now().UTC()}
	err = cs.SetConsent(ctx, c)
	s.consentChanged(unit) // even on error: the store may have changed it
	if err != nil {
		return nil, fmt.Errorf("set consent: %w", err)
	}
	h, err := s.CustomerHash(ctx, unit)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, who, "customer.consent", "customer:"+h, "", nil, map[string]bool{"promotions": promotions})
	return c, nil
}

// Erasure is the result of EraseCustomer.
type Erasure struct {
	Subject string           // the customer's CustomerHash
	Rows    map[string]int64 // rows deleted per table
	// Units is how many units were erased: the customer and the units
	// linked to it (device IDs and other hash attributes; links.go).
	Units int
}

// EraseCustomer deletes everything the store holds about a customer, and
// about every unit linked to the customer (links.go), in one transaction
// and records the erasure in the audit log under the customer's hash, with
// the counts of rows and units (never an ID).
func (s *Service) EraseCustomer(ctx context.Context, who Principal, unit string) (*Erasure, error) {
	if err := validCustomerID(unit); err != nil {
		return nil, err
	}
	cs, err := s.customerStore()
	if err != nil {
		return nil, err
	}
	h, err := s.CustomerHash(ctx, unit)
	if err != nil {
		return nil, err
	}
	// The exposures acknowledged so far leave the journal first, so that
	// none of the customer's stays behind or is folded in after.
	if err := s.FoldExposureJournal(ctx); err != nil {
		return nil, fmt.Errorf("erase customer: %w", err)
	}
	entry := &AuditEntry{At: s.now().UTC(), KeyID: who.KeyID, Action: "customer.erase", Resource: "customer:" + h}
	rows, units, err := cs.EraseCustomer(ctx, unit, entry)
	s.consentChanged(unit)
	s.exposures.forget() // its exposures and links are no longer stored
	if err != nil {
		return nil, fmt.Errorf("erase customer: %w", err)
	}
	return &Erasure{Subject: h, Rows: rows, Units: units}, nil
}

// PutCapGroup creates or replaces a frequency cap group.
func (s *Service) PutCapGroup(ctx context.Context, who Principal, g *CapGroup) error {
	if err := g.Validate(); err != nil {
		return err
	}
	cs, err := s.customerStore()
	if err != nil {
		return err
	}
	now := s.now().UTC()
	g.CreatedAt, g.UpdatedAt = now, now
	if err := cs.PutCapGroup(ctx, g); err != nil {
		return fmt.Errorf("put cap group: %w", err)
	}
	s.audit(ctx, who, "cap_group.put", "cap_group:"+g.Name, "", nil,
		map[string]any{"max_exposures": g.MaxExposures, "window_hours": g.Window.Hours()})
	return nil
}

// GetCapGroup returns a cap group.
func (s *Service) GetCapGroup(ctx context.Context, name string) (*CapGroup, error) {
	cs, err := s.customerStore()
	if err != nil {
		return nil, err
	}
	return cs.GetCapGroup(ctx, name)
}

// CappedUnits returns how many units a frequency cap kept from a
// promotion of the experiment.
func (s *Service) CappedUnits(ctx context.Context, experiment string) (int64, error) {
	cs, err := s.customerStore()
	if err != nil {
		return 0, err
	}
	return cs.CappedUnits(ctx, experiment)
}

// VariantSpend returns the promotion spend per variant of the experiment.
func (s *Service) VariantSpend(ctx context.Context, experiment string) (map[string]int64, error) {
	cs, err := s.customerStore()
	if err != nil {
		return nil, err
	}
	return cs.VariantSpend(ctx, experiment)
}

// optedOutExposures returns the units of the exposures among events that
// opted out of promotions (nil when the store has no consent). With
// cached, the set of every opted-out unit answers when it can (see
// unitOptedOut; the group commit of exposures, whose units' consent
// Assign read the same way moments before), without a store read per
// batch.
func (s *Service) optedOutExposures(ctx context.Context, events []Event, cached bool) (map[string]bool, error) {
	cs, ok := s.store.(CustomerStore)
	if !ok {
		return nil, nil
	}
	seen := map[string]bool{}
	var units []string
	for i := range events {
		u := events[i].UnitID
		if events[i].Type != EventExposure || u == "" || len(u) > MaxUnitIDLen || seen[u] {
			continue
		}
		seen[u] = true
		units = append(units, u)
	}
	if len(units) == 0 {
		return nil, nil
	}
	if out, ok := s.cachedOptOuts(ctx, cs, units, cached); ok {
		return out, nil
	}
	out, err := cs.OptedOut(ctx, units)
	if err != nil {
		return nil, fmt.Errorf("read consent: %w", err)
	}
	return out, nil
}

// cachedOptOuts answers optedOutExposures from the set of every
// opted-out unit when cached is true and the set can answer for every unit.
func (s *Service) cachedOptOuts(ctx context.Context, cs CustomerStore, units []string, cached bool) (map[string]bool, bool) {
	l, ok := cs.(OptOutLister)
	ttl := s.consentTTL()
	if !cached || !ok || ttl <= 0 {
		return nil, false
	}
	out := map[string]bool{}
	for _, u := range units {
		optedOut, ok := s.optOuts.lookup(ctx, l, ttl, u)
		if !ok {
			return nil, false
		}
		if optedOut {
			out[u] = true
		}
	}
	return out, true
}

// rightsGuard applies consent, budgets and frequency caps to the
// in-experiment results of one call for one unit: an Assign call, an
// EvaluateFlag or an EvaluateFlags call (see unitAssignment). Exposures
// counted toward a cap group accumulate across the experiments of the call.
type rightsGuard struct {
	s           *Service
	cs          CustomerStore
	snap        *snapshot
	now         time.Time
	unit        string // the unit's DefaultUnitAttribute, whose consent applies
	consentRead bool
	unitOptOut  bool
	groups      map[string]*CapGroup // nil value: no such group
	used        map[string]int       // exposures counted per group (stored + this call)
	// capped: the exposures (by event ID) the cap decided on in this call,
	// true when capped. The same exposure reached again (an experiment read
	// as a flag and through a flag rule in one bulk evaluation) gets the
	// same answer and is not counted twice.
	capped map[string]bool
	spend  map[string]map[string]int64
	// cappedUnits: the units RecordCapped stored, each keyed by its hash
	// attribute (linked to the customer by the call; links.go).
	cappedUnits []UnitLink
}

// newRightsGuard returns the guard of one call for the unit of attrs, or
// nil when the store has no customer features. It reads nothing yet: the
// unit's consent is read on first use.
func (s *Service) newRightsGuard(snap *snapshot, attrs assign.Attributes, now time.Time) *rightsGuard {
	cs, ok := s.store.(CustomerStore)
	if !ok {
		return nil
	}
	unit, _ := attrs[DefaultUnitAttribute].(string)
	return &rightsGuard{s: s, cs: cs, snap: snap, now: now, unit: unit}
}

// optedOut reports whether the unit opted out of promotions, reading its
// consent (consentcache.go) once per guard; false for a nil guard and for
// attributes without a unit ID.
func (g *rightsGuard) optedOut(ctx context.Context) (bool, error) {
	if g == nil || g.unit == "" {
		return false, nil
	}
	if !g.consentRead {
		out, err := g.s.unitOptedOut(ctx, g.cs, g.unit)
		if err != nil {
			return false, err
		}
		g.unitOptOut, g.consentRead = out, true
	}
	return g.unitOptOut, nil
}

// rightsReason reports whether reason is one of a right that turned an
// in-experiment result into the no-promotion answer.
func rightsReason(reason string) bool {
	switch reason {
	case ReasonOptedOut, ReasonBudgetExhausted, ReasonFrequencyCapped:
		return true
	}
	return false
}

// apply turns an in-experiment result r of experiment e into the
// no-promotion answer when the customer opted out, the variant's budget is
// spent, or the customer reached the frequency cap of e's cap group.
func (g *rightsGuard) apply(ctx context.Context, e *Experiment, r *AssignmentResult) error {
	if g == nil || !r.InExperiment || e == nil {
		return nil
	}
	optedOut, err := g.optedOut(ctx)
	if err != nil {
		return err
	}
	if optedOut {
		noPromotion(e, r, ReasonOptedOut)
		return nil
	}
	v := e.Variant(r.Variant)
	ctrl := e.Control()
	if v == nil || ctrl == nil || v.Key == ctrl.Key {
		return nil
	}
	if v.Promotion.Budget > 0 {
		spent, err := g.variantSpend(ctx, e.Key)
		if err != nil {
			return err
		}
		if spent[v.Key] >= v.Promotion.Budget {
			noPromotion(e, r, ReasonBudgetExhausted)
			return nil
		}
	}
	if e.CapGroup == "" || !isPromotion(v) {
		return nil
	}
	return g.frequencyCap(ctx, e, r)
}

func isPromotion(v *Variant) bool {
	return v.Promotion.Type != "" && v.Promotion.Type != PromoNone
}

func (g *rightsGuard) variantSpend(ctx context.Context, exp string) (map[string]int64, error) {
	if m, ok := g.spend[exp]; ok {
		return m, nil
	}
	m, err := g.cs.VariantSpend(ctx, exp)
	if err != nil {
		return nil, fmt.Errorf("variant spend: %w", err)
	}
	if g.spend == nil {
		g.spend = map[string]map[string]int64{}
	}
	g.spend[exp] = m
	return m, nil
}

func (g *rightsGuard) frequencyCap(ctx context.Context, e *Experiment, r *AssignmentResult) error {
	name := e.CapGroup
	if g.groups == nil {
		g.groups, g.used = map[string]*CapGroup{}, map[string]int{}
	}
	group, seen := g.groups[name]
	if !seen {
		var err error
		group, err = g.cs.GetCapGroup(ctx, name)
		if errors.Is(err, ErrNotFound) {
			group, err = nil, nil
		}
		if err != nil {
			return fmt.Errorf("cap group: %w", err)
		}
		if group != nil {
			n, err := g.cs.CountExposures(ctx, r.HashValue, g.promotionPairs(name), g.now.Add(-group.Window))
			if err != nil {
				return fmt.Errorf("count exposures: %w", err)
			}
			g.used[name] = n
		}
		// Cached only once counted: after a failure (which a bulk
		// evaluation reports per flag) the next experiment counts again.
		g.groups[name] = group
	}
	if group == nil {
		return nil
	}
	// The exposure this assignment logs; if stored already (the same
	// unit, variant and day) it is not a new exposure and is counted.
	id := ExposureID(e.Key, e.BucketVersion, r.HashValue, r.Variant, g.now)
	if capped, seen := g.capped[id]; seen {
		if capped {
			noPromotion(e, r, ReasonFrequencyCapped)
		}
		return nil
	}
	if g.capped == nil {
		g.capped = map[string]bool{}
	}
	if g.used[name] < group.MaxExposures {
		if dup, err := g.cs.HasEvent(ctx, id); err != nil {
			return fmt.Errorf("read exposure: %w", err)
		} else if !dup {
			g.used[name]++
		}
		g.capped[id] = false
		return nil
	}
	dup, err := g.cs.HasEvent(ctx, id)
	if err != nil {
		return fmt.Errorf("read exposure: %w", err)
	}
	if dup {
		g.capped[id] = false
		return nil
	}
	if err := g.cs.RecordCapped(ctx, e.Key, r.HashValue, g.now); err != nil {
		return fmt.Errorf("record capped unit: %w", err)
	}
	g.cappedUnits = append(g.cappedUnits, UnitLink{Attribute: r.HashAttribute, UnitID: r.HashValue})
	g.capped[id] = true
	noPromotion(e, r, ReasonFrequencyCapped)
	return nil
}

// promotionPairs lists the promotion variants of the running and paused
// experiments of the cap group.
func (g *rightsGuard) promotionPairs(group string) []ExperimentVariant {
	var out []ExperimentVariant
	for _, x := range g.snap.exps {
		if x.CapGroup != group {
			continue
		}
		for i := range x.Variants {
			if isPromotion(&x.Variants[i]) {
				out = append(out, ExperimentVariant{Experiment: x.Key, Variant: x.Variants[i].Key})
			}
		}
	}
	return out
}

// noPromotion makes r the control answer with the reason.
func noPromotion(e *Experiment, r *AssignmentResult, reason string) {
	ctrl := e.Control()
	r.Variant = ctrl.Key
	r.Value = ctrl.FlagValue
	if len(r.Value) == 0 {
		r.Value, _ = json.Marshal(ctrl.Key)
	}
	r.InExperiment = false
	r.Reason = reason
}
