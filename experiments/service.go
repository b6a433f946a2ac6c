package experiments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Service enforces the domain rules over a Store: validation, the status
// lifecycle, re-randomization, API keys and event ingest. It is safe for
// concurrent use.
type Service struct {
	store Store
	log   *slog.Logger
	now   func() time.Time
	// checkCondition validates a targeting condition document; set by
	// SetConditionChecker (package assign parses conditions).
	checkCondition func(doc []byte) error
	// spec caches the SDK snapshots and holds the change subscribers.
	spec *specState
	// ClockSkew is how far in the future an event's timestamp may be.
	ClockSkew time.Duration
	// segs caches customer segment boundaries (segments.go).
	segs segmentState
	// auth caches verified API keys (authcache.go).
	auth authCache
	// touching holds the IDs of the keys whose last use is being written
	// (touchKey), so that one request writes it and the others go on.
	touching sync.Map
	// consent caches units' consent for Assign (consentcache.go).
	consent *ttlCache[bool]
	// horizon caches the store's retention horizon (retention.go).
	horizon *ttlCache[time.Time]
	// exposures is the group commit of exposures (exposurebatch.go).
	exposures *exposureBatcher
	// folder folds the exposure journal (exposurejournal.go).
	folder *exposureFolder
	// optOuts is the set of every opted-out unit (consentcache.go).
	optOuts optOutSet
}

// NewService returns a Service over store. log may be nil.
func NewService(store Store, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: store, log: log, now: time.Now, ClockSkew: DefaultClockSkew, checkCondition: checkCondition,
		spec: newSpecState(), auth: newAuthCache(DefaultAuthCacheTTL), consent: newTTLCache[bool](DefaultConsentCacheTTL, maxConsentCacheEntries),
		horizon: newTTLCache[time.Time](retentionCacheTTL, 1)}
	s.exposures = newExposureBatcher(s)
	s.folder = newExposureFolder(s)
	return s
}

// SetClock replaces the clock, for tests.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// SetConditionChecker sets the function that validates targeting
// conditions; without one, conditions need only be JSON objects.
func (s *Service) SetConditionChecker(check func(doc []byte) error) { s.checkCondition = check }

// Store returns the underlying store.
func (s *Service) Store() Store { return s.store }

// Ping checks the store.
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }

func (s *Service) validateCondition(field string, doc json.RawMessage) error {
	if len(doc) == 0 {
		return nil
	}
	var obj map[string]any
	if err := json.Unmarshal(doc, &obj); err != nil {
		return Invalid(field, "invalid_condition", "must be a JSON object")
	}
	if s.checkCondition != nil {
		if err := s.checkCondition(doc); err != nil {
			return Invalid(field, "invalid_condition", "%v", err)
		}
	}
	return nil
}

func (s *Service) validateExperiment(e *Experiment) error {
	if err := e.Validate(); err != nil {
		return err
	}
	return s.validateCondition("condition", e.Condition)
}

// ValidateExperiment checks e as CreateExperiment and UpdateExperiment
// do (on a copy with the defaults filled in) and returns every field at
// fault, changing nothing.
func (s *Service) ValidateExperiment(e *Experiment) error {
	c := *e
	c.ApplyDefaults()
	return s.validateExperiment(&c)
}

// CreateExperiment validates e, fills defaults, and stores it as a draft.
func (s *Service) CreateExperiment(ctx context.Context, who Principal, e *Experiment) error {
	if err := who.claim(&e.Environment); err != nil {
		return err
	}
	e.ApplyDefaults()
	e.Status = StatusDraft
	e.StartedAt, e.EndedAt = time.Time{}, time.Time{}
	if err := s.validateExperiment(e); err != nil {
		return err
	}
	now := s.now().UTC()
	e.CreatedAt, e.UpdatedAt = now, now
	if err := s.store.CreateExperiment(ctx, e); err != nil {
		return fmt.Errorf("create experiment: %w", err)
	}
	s.syncPromotionCosts(ctx, e) // cost.go
	s.audit(ctx, who, "experiment.create", "experiment:"+e.Key, e.Environment, nil, e)
	s.changed()
	return nil
}

// GetExperiment returns one experiment.
func (s *Service) GetExperiment(ctx context.Context, key string) (*Experiment, error) {
	return s.store.GetExperiment(ctx, key)
}

// LiveExperiment returns experiment key as the assignment snapshot holds it
// when it is running or paused, else as the store holds it (a draft or a
// stopped experiment). It is as fresh as assignment itself: a change made
// through this Service shows at once, one made by another replica within
// specMaxAge. The report read path uses it so that reading a report costs
// no store read while the shop's traffic is served from the same store.
// The experiment may be shared: callers must not modify it.
func (s *Service) LiveExperiment(ctx context.Context, key string) (*Experiment, error) {
	if snap, err := s.snapshot(ctx, ""); err == nil {
		if e := snap.exps[key]; e != nil {
			return e, nil
		}
	}
	return s.store.GetExperiment(ctx, key)
}

// ListExperiments lists experiments.
func (s *Service) ListExperiments(ctx context.Context, f ExperimentFilter) ([]*Experiment, error) {
	return s.store.ListExperiments(ctx, f)
}

// maxRetries bounds the optimistic-concurrency retries of a
// read-modify-write.
const maxRetries = 5

// modifyExperiment reads the experiment, applies change, validates and
// writes it back, retrying when another writer changed it in between.
func (s *Service) modifyExperiment(ctx context.Context, who Principal, key, action string, change func(*Experiment) error) (*Experiment, error) {
	for attempt := 0; ; attempt++ {
		cur, err := s.store.GetExperiment(ctx, key)
		if err != nil {
			return nil, err
		}
		if !who.Sees(cur.Environment) {
			return nil, NotFound("experiment", key)
		}
		before, _ := json.Marshal(cur)
		next := *cur
		if err := change(&next); err != nil {
			return nil, err
		}
		if err := who.claim(&next.Environment); err != nil {
			return nil, err
		}
		next.Key, next.CreatedAt, next.Revision = cur.Key, cur.CreatedAt, cur.Revision
		next.UpdatedAt = s.now().UTC()
		if err := s.validateExperiment(&next); err != nil {
			return nil, err
		}
		err = s.store.UpdateExperiment(ctx, &next)
		if errors.Is(err, ErrConflict) && attempt < maxRetries {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s experiment: %w", action, err)
		}
		s.syncPromotionCosts(ctx, &next) // cost.go
		s.auditRaw(ctx, who, "experiment."+action, "experiment:"+key, next.Environment, before, &next)
		s.changed()
		return &next, nil
	}
}

// UpdateExperiment replaces the definition of a draft experiment with e
// (status and timestamps are kept). Experiments that have started can only
// be re-randomized.
func (s *Service) UpdateExperiment(ctx context.Context, who Principal, e *Experiment) (*Experiment, error) {
	return s.modifyExperiment(ctx, who, e.Key, "update", func(cur *Experiment) error {
		if cur.Status != StatusDraft {
			return &Error{Kind: KindConflict, Code: "not_draft", Field: "status",
				Message: fmt.Sprintf("only a draft can be edited; this experiment is %s (use rerandomize to change weights or coverage)", cur.Status)}
		}
		status, created := cur.Status, cur.CreatedAt
		*cur = *e
		cur.Status, cur.CreatedAt = status, created
		cur.ApplyDefaults()
		return nil
	})
}

// Transition applies a lifecycle action (start, pause, resume, stop,
// archive) and returns the updated experiment.
func (s *Service) Transition(ctx context.Context, who Principal, key string, a Action) (*Experiment, error) {
	return s.modifyExperiment(ctx, who, key, string(a), func(e *Experiment) error {
		next, err := e.Status.Next(a)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		if a == ActionStart {
			e.StartedAt = now
		}
		if a == ActionStop {
			e.EndedAt = now
		}
		e.Status = next
		return nil
	})
}

// Rerandomization is a deliberate change of a started experiment's weights
// or coverage. It bumps the bucket version, which changes the hash seed
// (see BuildSpec), so every unit is bucketed afresh, and sticky assignments
// of earlier versions stop applying. Units exposed before and after in
// different variants are flagged as multiple-exposure units.
type Rerandomization struct {
	Weights  []float64 // one per variant, in order; nil keeps them
	Coverage *float64  // nil keeps it
}

// Rerandomize changes weights and coverage of a running or paused
// experiment and bumps its bucket version.
func (s *Service) Rerandomize(ctx context.Context, who Principal, key string, r Rerandomization) (*Experiment, error) {
	return s.modifyExperiment(ctx, who, key, "rerandomize", func(e *Experiment) error {
		if e.Status != StatusRunning && e.Status != StatusPaused {
			return &Error{Kind: KindConflict, Code: "not_started", Field: "status",
				Message: fmt.Sprintf("only a running or paused experiment is re-randomized; this one is %s (edit a draft instead)", e.Status)}
		}
		if r.Weights != nil {
			if len(r.Weights) != len(e.Variants) {
				return Invalid("weights", "wrong_count", "need %d weights, one per variant", len(e.Variants))
			}
			vs := make([]Variant, len(e.Variants))
			copy(vs, e.Variants)
			for i := range vs {
				vs[i].Weight = r.Weights[i]
			}
			e.Variants = vs
		}
		if r.Coverage != nil {
			e.Coverage = *r.Coverage
		}
		e.BucketVersion++
		return nil
	})
}

// CreateFlag validates and stores a flag.
func (s *Service) CreateFlag(ctx context.Context, who Principal, f *Flag) error {
	if err := who.claim(&f.Environment); err != nil {
		return err
	}
	f.ApplyDefaults()
	if err := s.validateFlag(f); err != nil {
		return err
	}
	now := s.now().UTC()
	f.CreatedAt, f.UpdatedAt = now, now
	if err := s.store.CreateFlag(ctx, f); err != nil {
		return fmt.Errorf("create flag: %w", err)
	}
	s.audit(ctx, who, "flag.create", "flag:"+f.Key, f.Environment, nil, f)
	s.changed()
	return nil
}

func (s *Service) validateFlag(f *Flag) error {
	if err := f.Validate(); err != nil {
		return err
	}
	for i, r := range f.Rules {
		if err := s.validateCondition(fmt.Sprintf("rules[%d].condition", i), r.Condition); err != nil {
			return err
		}
	}
	return nil
}

// GetFlag returns one flag.
func (s *Service) GetFlag(ctx context.Context, key string) (*Flag, error) {
	return s.store.GetFlag(ctx, key)
}

// ListFlags lists the flags of an environment ("" for all).
func (s *Service) ListFlags(ctx context.Context, env string) ([]*Flag, error) {
	return s.store.ListFlags(ctx, env)
}

// UpdateFlag replaces a flag's definition.
func (s *Service) UpdateFlag(ctx context.Context, who Principal, f *Flag) error {
	if err := who.claim(&f.Environment); err != nil {
		return err
	}
	f.ApplyDefaults()
	if err := s.validateFlag(f); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		cur, err := s.store.GetFlag(ctx, f.Key)
		if err != nil {
			return err
		}
		if !who.Sees(cur.Environment) {
			return NotFound("flag", f.Key)
		}
		f.CreatedAt, f.Revision, f.UpdatedAt = cur.CreatedAt, cur.Revision, s.now().UTC()
		err = s.store.UpdateFlag(ctx, f)
		if errors.Is(err, ErrConflict) && attempt < maxRetries {
			continue
		}
		if err != nil {
			return fmt.Errorf("update flag: %w", err)
		}
		s.audit(ctx, who, "flag.update", "flag:"+f.Key, f.Environment, cur, f)
		s.changed()
		return nil
	}
}

// DeleteFlag removes a flag.
func (s *Service) DeleteFlag(ctx context.Context, who Principal, key string) error {
	cur, err := s.store.GetFlag(ctx, key)
	if err != nil {
		return err
	}
	if !who.Sees(cur.Environment) {
		return NotFound("flag", key)
	}
	if err := s.store.DeleteFlag(ctx, key); err != nil {
		return fmt.Errorf("delete flag: %w", err)
	}
	s.audit(ctx, who, "flag.delete", "flag:"+key, cur.Environment, cur, nil)
	s.changed()
	return nil
}

// CreateKey makes a new API key and returns it with its token, which is
// shown to the caller once and never stored.
func (s *Service) CreateKey(ctx context.Context, who Principal, name string, scope Scope, env string) (*APIKey, string, error) {
	if _, err := ParseScope(string(scope)); err != nil {
		return nil, "", err
	}
	if err := who.claim(&env); err != nil {
		return nil, "", err
	}
	if env != "" && !ValidKey(env) {
		return nil, "", Invalid("environment", "invalid_key", "must be a key such as production or staging")
	}
	if len(name) > 200 {
		return nil, "", Invalid("name", "too_long", "must be at most 200 characters")
	}
	if err := checkText("name", name, 200); err != nil {
		return nil, "", err
	}
	k, token, err := NewAPIKey(name, scope, env, s.now())
	if err != nil {
		return nil, "", fmt.Errorf("create key: %w", err)
	}
	if err := s.store.CreateKey(ctx, k); err != nil {
		return nil, "", fmt.Errorf("create key: %w", err)
	}
	s.audit(ctx, who, "key.create", "key:"+k.ID, env, nil, map[string]any{"name": name, "scope": scope, "environment": env})
	return k, token, nil
}

// ListKeys lists the keys (without secrets: only hashes are stored): every
// key when env is "", else only the keys bound to env.
func (s *Service) ListKeys(ctx context.Context, env string) ([]*APIKey, error) {
	keys, err := s.store.ListKeys(ctx)
	if err != nil || env == "" {
		return keys, err
	}
	return slices.DeleteFunc(keys, func(k *APIKey) bool { return k.Environment != env }), nil
}

// RevokeKey revokes a key. It stops working at once in this process;
// other processes over the same store keep accepting it for up to their
// authentication cache TTL (see SetAuthCacheTTL, 5 s by default).
func (s *Service) RevokeKey(ctx context.Context, who Principal, id string) error {
	k, err := s.store.GetKey(ctx, id)
	if err != nil {
		return err
	}
	if !who.Sees(k.Environment) {
		return NotFound("api_key", id)
	}
	err = s.store.RevokeKey(ctx, id, s.now().UTC())
	s.auth.invalidate(id) // even on error: the store may have revoked it
	if err != nil {
		return err
	}
	s.audit(ctx, who, "key.revoke", "key:"+id, k.Environment, nil, nil)
	return nil
}

// EnsureAdminKey creates the first admin key when the store has no keys.
// With a non-empty token (PROMOLIFT_ADMIN_KEY) that token becomes the key;
// otherwise one is generated. When keys exist, a non-empty token must be
// one of their active admin keys (else a KindConflict error, code
// admin_key_mismatch). It returns the generated token ("" when the token
// was given or keys existed) and whether a key was created.
func (s *Service) EnsureAdminKey(ctx context.Context, token string) (string, bool, error) {
	n, err := s.store.CountKeys(ctx)
	if err != nil {
		return "", false, fmt.Errorf("count keys: %w", err)
	}
	if n > 0 {
		if token != "" {
			return "", false, s.checkAdminToken(ctx, token)
		}
		return "", false, nil
	}
	var k *APIKey
	generated := ""
	if token != "" {
		k, err = APIKeyFromToken(token, "initial admin key", ScopeAdmin, s.now())
	} else {
		k, generated, err = NewAPIKey("initial admin key", ScopeAdmin, "", s.now())
	}
	if err != nil {
		return "", false, err
	}
	if err := s.store.CreateKey(ctx, k); err != nil {
		return "", false, fmt.Errorf("create admin key: %w", err)
	}
	s.audit(ctx, Principal{}, "key.create", "key:"+k.ID, k.Environment, nil, map[string]any{"name": k.Name, "scope": k.Scope})
	return generated, true, nil
}

// checkAdminToken returns a KindConflict error (code admin_key_mismatch)
// unless token is an active admin key of the store: an operator's
// PROMOLIFT_ADMIN_KEY is used only while the store has no keys, so one
// that differs from the stored keys would otherwise be ignored silently and
// every call made with it refused.
func (s *Service) checkAdminToken(ctx context.Context, token string) error {
	mismatch := &Error{Kind: KindConflict, Code: "admin_key_mismatch", Field: "PROMOLIFT_ADMIN_KEY",
		Message: "is not an active admin key of this database, which already has keys " +
			"(the initial admin key is created only on the first start); calls made with it would get 401. " +
			"Unset it and use a stored admin key, or create one with 'promolift keys create --scope admin'"}
	if err := CheckToken(token); err != nil {
		return err
	}
	id, secret, _ := SplitToken(token)
	k, err := s.store.GetKey(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return mismatch
	}
	if err != nil {
		return fmt.Errorf("read key: %w", err)
	}
	if !k.Matches(secret) || k.Revoked() || k.Scope != ScopeAdmin {
		return mismatch
	}
	return nil
}

// Authenticate checks a bearer token and returns its principal. Unknown,
// malformed and revoked tokens all give the same KindUnauthorized error.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	unauthorized := &Error{Kind: KindUnauthorized, Code: "invalid_key", Message: "missing, unknown or revoked API key"}
	id, secret, ok := SplitToken(token)
	if !ok {
		return Principal{}, unauthorized
	}
	p, lastUsed, gen, hit := s.auth.lookup(id, secret)
	if hit {
		s.touchKey(ctx, id, lastUsed)
		return p, nil
	}
	k, err := s.store.GetKey(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Principal{}, unauthorized
	}
	if err != nil {
		return Principal{}, err
	}
	if !k.Matches(secret) || k.Revoked() {
		return Principal{}, unauthorized
	}
	p = Principal{KeyID: k.ID, Scope: k.Scope, Environment: k.Environment}
	s.auth.store(k, p, k.LastUsedAt, gen)
	s.touchKey(ctx, k.ID, k.LastUsedAt)
	return p, nil
}

// touchKey records the use of key id when its last use (lastUsed) is more
// than a minute ago. One request at a time writes a key's last use: the
// requests that find it stale while that write is in flight do not wait
// for it nor write the same row again (a shop's SDK key is used by every
// request in flight, which would otherwise queue on that one row).
func (s *Service) touchKey(ctx context.Context, id string, lastUsed time.Time) {
	now := s.now().UTC()
	if now.Sub(lastUsed) <= time.Minute {
		return
	}
	if _, busy := s.touching.LoadOrStore(id, struct{}{}); busy {
		return
	}
	defer s.touching.Delete(id)
	if err := s.store.TouchKey(ctx, id, now); err != nil {
		s.log.Warn("record key use", "key_id", id, "err", err)
		return
	}
	s.auth.touched(id, now)
}

// IngestEvents validates a batch and stores the valid events. One bad
// event never drops the good ones: the result has an outcome per event.
// The error is non-nil only when the store failed, in which case nothing
// of the batch is known to be stored.
func (s *Service) IngestEvents(ctx context.Context, who Principal, events []Event) ([]EventOutcome, error) {
	return s.ingestEvents(ctx, who, events, map[string]*Experiment{}, false, s.store.IngestEvents)
}

// saveEvents stores valid events and reports which were duplicates:
// Store.IngestEvents, or the exposure journal's append (exposurejournal.go).
type saveEvents func(ctx context.Context, valid []Event) (dup []bool, err error)

// ingestEvents is IngestEvents with exps, the experiments of the
// exposures as already read by the caller (the group commit of exposures
// has them from the snapshot it assigned with; the others are read from
// the store into it), the consent of the exposures' units from the
// consent caches when cachedConsent is true (see optedOutExposures), and
// the valid events stored by save.
func (s *Service) ingestEvents(ctx context.Context, who Principal, events []Event, exps map[string]*Experiment,
	cachedConsent bool, save saveEvents) ([]EventOutcome, error) {
	now := s.now().UTC()
	out := make([]EventOutcome, len(events))
	valid := make([]Event, 0, len(events))
	index := make([]int, 0, len(events))
	optedOut, err := s.optedOutExposures(ctx, events, cachedConsent) // customers.go
	if err != nil {
		return nil, err
	}
	horizon, err := s.retentionHorizon(ctx) // retention.go
	if err != nil {
		return nil, err
	}
	for i := range events {
		e := &events[i]
		out[i] = EventOutcome{Index: i, EventID: e.ID}
		e.Timestamp = e.Timestamp.UTC()
		e.ReceivedAt = now
		if errs := e.Problems(now, s.ClockSkew); len(errs) > 0 {
			out[i].Status, out[i].Err, out[i].Errors = EventRejected, errs[0], errs
			continue
		}
		if e.Timestamp.Before(horizon) {
			out[i].Status, out[i].Err = EventRejected, tooOld(horizon)
			continue
		}
		if e.Type == EventExposure {
			if err := s.checkExposure(ctx, who, exps, e); err != nil {
				var de *Error
				if !errors.As(err, &de) {
					return nil, err
				}
				out[i].Status, out[i].Err = EventRejected, de
				continue
			}
			if optedOut[e.UnitID] {
				out[i].Status, out[i].Err = EventRejected, ErrOptedOut
				continue
			}
			e.Environment = exps[e.Experiment].Environment
		} else {
			e.Environment = who.Environment
		}
		valid = append(valid, *e)
		valid[len(valid)-1].Attributes = keptAttributes(exps[e.Experiment], e)
		index = append(index, i)
	}
	if len(valid) > 0 {
		dups, err := save(ctx, valid)
		if err != nil {
			return nil, fmt.Errorf("ingest events: %w", err)
		}
		for j, dup := range dups {
			if dup {
				out[index[j]].Status = EventDuplicate
			} else {
				out[index[j]].Status = EventAccepted
			}
		}
	}
	return out, nil
}

// keptAttributes returns the attributes of e that are stored
// (docs/security.md, "Data kept"): those an exposure's experiment x keeps
// for breakdowns (Experiment.KeepsAttribute), none of a conversion's,
// which no analysis reads.
func keptAttributes(x *Experiment, e *Event) map[string]string {
	if e.Type != EventExposure || x == nil || len(e.Attributes) == 0 {
		return nil
	}
	var out map[string]string
	for k, v := range e.Attributes {
		if x.KeepsAttribute(k) {
			if out == nil {
				out = make(map[string]string, len(e.Attributes))
			}
			out[k] = v
		}
	}
	return out
}

// checkExposure verifies that an exposure names an experiment that is
// collecting data (running, paused, or stopped for late events) and one of
// its variants, in the caller's environment.
func (s *Service) checkExposure(ctx context.Context, who Principal, cache map[string]*Experiment, e *Event) error {
	x, ok := cache[e.Experiment]
	if !ok {
		var err error
		x, err = s.store.GetExperiment(ctx, e.Experiment)
		if errors.Is(err, ErrNotFound) {
			x = nil
		} else if err != nil {
			return err
		}
		cache[e.Experiment] = x
	}
	if x == nil || (who.Environment != "" && x.Environment != who.Environment) {
		return &Error{Kind: KindInvalid, Code: "unknown_experiment", Field: "experiment",
			Message: fmt.Sprintf("no experiment %q", e.Experiment)}
	}
	if x.Status == StatusDraft || x.Status == StatusArchived {
		return &Error{Kind: KindInvalid, Code: "experiment_not_running", Field: "experiment",
			Message: fmt.Sprintf("experiment %q is %s and takes no exposures", e.Experiment, x.Status)}
	}
	if x.Variant(e.Variant) == nil {
		return &Error{Kind: KindInvalid, Code: "unknown_variant", Field: "variant",
			Message: fmt.Sprintf("experiment %q has no variant %q", e.Experiment, e.Variant)}
	}
	return nil
}

// SufficientStats reads the statistics of one experiment.
func (s *Service) SufficientStats(ctx context.Context, q StatsQuery) (*SufficientStats, error) {
	if q.MultipleExposure == "" {
		q.MultipleExposure = MultipleExclude
	}
	if q.MultipleExposure != MultipleExclude && q.MultipleExposure != MultipleFirst {
		return nil, Invalid("multiple_exposure", "invalid", "must be exclude or first")
	}
	if _, err := s.store.GetExperiment(ctx, q.Experiment); err != nil {
		return nil, err
	}
	return s.store.SufficientStats(ctx, q)
}

// Audit lists the audit log, newest first: every entry when env is "",
// else only the entries of resources of environment env.
func (s *Service) Audit(ctx context.Context, limit int, beforeID int64, env string) ([]*AuditEntry, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	return s.store.ListAudit(ctx, AuditFilter{Limit: limit, BeforeID: beforeID, Environment: env})
}

func (s *Service) audit(ctx context.Context, who Principal, action, resource, env string, before, after any) {
	var b []byte
	if before != nil {
		b, _ = json.Marshal(before)
	}
	s.auditRaw(ctx, who, action, resource, env, b, after)
}

// auditRaw appends to the audit log. A failure is logged, not returned:
// the change it records has already been made.
// env is the environment of the resource ("" for what belongs to none, such
// as a customer): keys bound to an environment list only its entries.
func (s *Service) auditRaw(ctx context.Context, who Principal, action, resource, env string, before []byte, after any) {
	e := &AuditEntry{At: s.now().UTC(), KeyID: who.KeyID, Action: action, Resource: resource, Environment: env, Before: before}
	if after != nil {
		e.After, _ = json.Marshal(after)
	}
	if err := s.store.AppendAudit(ctx, e); err != nil {
		s.log.Error("append audit entry", "action", action, "resource", resource, "err", err)
	}
}

// GetKey returns one API key (its hash, never a token).
func (s *Service) GetKey(ctx context.Context, id string) (*APIKey, error) {
	return s.store.GetKey(ctx, id)
}
