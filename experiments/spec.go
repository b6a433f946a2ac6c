package experiments

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/promolift/promolift/assign"
)

// rolloutHashVersion is the hash version of flag rollout rules.
const rolloutHashVersion = 2

// checkCondition validates a targeting condition document with package
// assign; NewService installs it as the Service's condition checker.
func checkCondition(doc []byte) error {
	_, err := assign.ParseCondition(doc)
	return err
}

// BuildSpec converts experiments and flags into the snapshot SDKs evaluate.
//
// Running experiments become assign experiments; paused ones are served
// inactive (everyone gets control, nobody is in the experiment); experiments
// in any other status are left out. A variant's value is its FlagValue, or
// its key as a JSON string. Flags become features: a disabled flag serves its
// default variant; force rules keep their condition and, with a rollout
// below 1, hash the unit attribute "id" with the rule's seed (default the
// flag key); experiment rules reference a running experiment by key and
// serve the flag's variant of the same key as the assigned experiment
// variant (rules referencing an experiment that is not running are left
// out, so evaluation falls through to the next rule, as in GrowthBook).
//
// The result is compiled and ready for evaluation. Its order is
// deterministic (experiments by key), so equal inputs give equal JSON.
func BuildSpec(exps []*Experiment, flags []*Flag) (*assign.Spec, error) {
	spec := &assign.Spec{}
	live := make(map[string]*Experiment, len(exps))
	sorted := make([]*Experiment, 0, len(exps))
	for _, e := range exps {
		if e == nil || (e.Status != StatusRunning && e.Status != StatusPaused) {
			continue
		}
		sorted = append(sorted, e)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Key < sorted[j].Key })
	layers := map[string]bool{}
	for _, e := range sorted {
		if _, dup := live[e.Key]; dup {
			return nil, Invalid("experiments", "duplicate_key", "experiment %q appears twice", e.Key)
		}
		live[e.Key] = e
		x := specExperiment(e)
		if x.Layer != "" && !layers[x.Layer] {
			layers[x.Layer] = true
			spec.Layers = append(spec.Layers, assign.Layer{Key: x.Layer})
		}
		spec.Experiments = append(spec.Experiments, x)
	}
	sort.Slice(spec.Layers, func(i, j int) bool { return spec.Layers[i].Key < spec.Layers[j].Key })
	for _, f := range flags {
		if f == nil {
			continue
		}
		if spec.Features == nil {
			spec.Features = make(map[string]assign.Feature, len(flags))
		}
		if _, dup := spec.Features[f.Key]; dup {
			return nil, Invalid("flags", "duplicate_key", "flag %q appears twice", f.Key)
		}
		spec.Features[f.Key] = specFeature(f, live)
	}
	if err := spec.Compile(); err != nil {
		return nil, specError(err, spec)
	}
	return spec, nil
}

// specError turns a compile error of a built spec into a domain error
// naming the experiment or flag at fault.
func specError(err error, spec *assign.Spec) error {
	var fe *assign.FieldError
	if !errors.As(err, &fe) {
		return fmt.Errorf("build sdk spec: %w", err)
	}
	field := fe.Field
	var i int
	if n, _ := fmt.Sscanf(field, "experiments[%d]", &i); n == 1 && i >= 0 && i < len(spec.Experiments) {
		return &Error{Kind: KindInvalid, Code: "invalid_spec", Field: "experiment:" + spec.Experiments[i].Key,
			Message: fmt.Sprintf("experiment %q cannot be served: %v", spec.Experiments[i].Key, err), Err: err}
	}
	return &Error{Kind: KindInvalid, Code: "invalid_spec", Field: field,
		Message: fmt.Sprintf("the SDK config cannot be built: %v", err), Err: err}
}

// variantValue is the value apps read for variant v: its flag value, or
// its key as a JSON string.
func variantValue(v *Variant) json.RawMessage {
	if len(v.FlagValue) > 0 {
		var buf bytes.Buffer
		if json.Compact(&buf, v.FlagValue) == nil {
			return buf.Bytes()
		}
	}
	b, _ := json.Marshal(v.Key)
	return b
}

// specNamespace returns the namespace (or layer and layer range) of e.
// An experiment in a layer takes the slice given by its namespace range
// (the whole layer without one).
func specNamespace(e *Experiment) (ns *assign.Namespace, layer string, layerRange *assign.Range) {
	if e.Layer != "" {
		r := assign.Range{Start: 0, End: 1}
		if e.Namespace != nil {
			r = assign.Range{Start: e.Namespace.Start, End: e.Namespace.End}
		}
		return nil, e.Layer, &r
	}
	if e.Namespace != nil {
		return &assign.Namespace{ID: e.Namespace.ID, Start: e.Namespace.Start, End: e.Namespace.End}, "", nil
	}
	return nil, "", nil
}

func specExperiment(e *Experiment) assign.Experiment {
	n := len(e.Variants)
	vals := make([]json.RawMessage, n)
	meta := make([]assign.VariationMeta, n)
	weights := make([]float64, n)
	for i := range e.Variants {
		v := &e.Variants[i]
		vals[i] = variantValue(v)
		meta[i] = assign.VariationMeta{Key: v.Key, Name: v.Name}
		weights[i] = v.Weight
	}
	cov := e.Coverage
	ns, layer, lr := specNamespace(e)
	x := assign.Experiment{
		Key:               e.Key,
		Name:              e.Name,
		Variations:        vals,
		Meta:              meta,
		Weights:           weights,
		Coverage:          &cov,
		Status:            "running",
		Condition:         compactCondition(e.Condition),
		Namespace:         ns,
		Layer:             layer,
		LayerRange:        lr,
		HashAttribute:     e.UnitAttribute,
		FallbackAttribute: e.FallbackAttribute,
		HashVersion:       e.HashVersion,
		Seed:              e.Seed,
		BucketVersion:     e.BucketVersion,
		MinBucketVersion:  e.MinBucketVersion,
		// Sticky bucketing (and with it the fallback attribute) only for
		// experiments that ask for it, in Assign and in the SDKs alike.
		DisableStickyBucketing: !e.Sticky,
		// Assign gives control to a customer who withdrew promotion
		// consent; SDKs cannot see consent, so they give control to
		// everyone for an experiment that can give a promotion.
		Consent: slices.ContainsFunc(e.Variants, func(v Variant) bool { return isPromotion(&v) }),
	}
	if x.HashAttribute == "" {
		x.HashAttribute = DefaultUnitAttribute
	}
	if x.HashVersion == 0 {
		x.HashVersion = DefaultHashVersion
	}
	if x.Seed == "" {
		x.Seed = e.Key
	}
	if e.BucketVersion > 1 {
		// A re-randomization hashes with a new seed, so every unit is
		// bucketed afresh (sticky docs are keyed by bucket version too).
		x.Seed += ":" + strconv.Itoa(e.BucketVersion)
	}
	if e.Status == StatusPaused {
		inactive := false
		x.Active = &inactive
	}
	return x
}

// compactCondition returns doc compacted, or nil when it is empty or {}.
func compactCondition(doc json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, doc); err != nil {
		return doc
	}
	if buf.String() == "{}" || buf.String() == "null" {
		return nil
	}
	return buf.Bytes()
}

// andConditions combines two condition documents.
func andConditions(a, b json.RawMessage) json.RawMessage {
	a, b = compactCondition(a), compactCondition(b)
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	out := make([]byte, 0, len(a)+len(b)+12)
	out = append(out, `{"$and":[`...)
	out = append(out, a...)
	out = append(out, ',')
	out = append(out, b...)
	return append(out, "]}"...)
}

// specFeature converts a flag. Besides GrowthBook's defaultValue and rules
// the feature carries the flag's variants, default variant, enabled switch
// and metadata, and each force rule names its variant, so that SDKs and
// OFREP report the same variant names and reasons.
func specFeature(f *Flag, live map[string]*Experiment) assign.Feature {
	enabled := f.Enabled
	feat := assign.Feature{
		DefaultValue:   compactValue(f.Variants[f.DefaultVariant]),
		DefaultVariant: f.DefaultVariant,
		Enabled:        &enabled,
		Metadata:       flagMetadata(f),
	}
	if len(f.Variants) > 0 {
		feat.Variants = make(map[string]json.RawMessage, len(f.Variants))
		for k, v := range f.Variants {
			feat.Variants[k] = compactValue(v)
		}
	}
	if !f.Enabled {
		return feat
	}
	for i := range f.Rules {
		r := &f.Rules[i]
		id := r.ID
		if id == "" {
			id = "rule-" + strconv.Itoa(i+1)
		}
		if r.Experiment == "" {
			rule := assign.Rule{ID: id, Variant: r.Variant, Condition: compactCondition(r.Condition),
				Force: compactValue(f.Variants[r.Variant])}
			if r.Rollout != nil && *r.Rollout < 1 {
				cov := *r.Rollout
				rule.Coverage = &cov
				rule.HashAttribute = DefaultUnitAttribute
				rule.HashVersion = rolloutHashVersion
				rule.Seed = r.Seed
				if rule.Seed == "" {
					rule.Seed = f.Key
				}
			}
			feat.Rules = append(feat.Rules, rule)
			continue
		}
		e := live[r.Experiment]
		if e == nil || e.Status != StatusRunning {
			continue
		}
		x := specExperiment(e)
		vals := make([]json.RawMessage, len(e.Variants))
		for j := range e.Variants {
			if v, ok := f.Variants[e.Variants[j].Key]; ok {
				vals[j] = v
			} else {
				vals[j] = x.Variations[j]
			}
		}
		ns := x.Namespace
		if x.Layer != "" {
			ns = &assign.Namespace{ID: x.Layer, Start: x.LayerRange.Start, End: x.LayerRange.End}
		}
		feat.Rules = append(feat.Rules, assign.Rule{
			ID:                id,
			Key:               e.Key,
			Name:              e.Name,
			Condition:         andConditions(r.Condition, e.Condition),
			Variations:        vals,
			Meta:              x.Meta,
			Weights:           x.Weights,
			Coverage:          x.Coverage,
			Namespace:         ns,
			HashAttribute:     x.HashAttribute,
			FallbackAttribute: x.FallbackAttribute,
			HashVersion:       x.HashVersion,
			Seed:              x.Seed,
			BucketVersion:     x.BucketVersion,
			MinBucketVersion:  x.MinBucketVersion,
			// Sticky bucketing as in the experiment.
			DisableStickyBucketing: x.DisableStickyBucketing,
		})
	}
	return feat
}

// compactValue returns the JSON value v compacted (v itself when invalid).
func compactValue(v json.RawMessage) json.RawMessage {
	if len(v) == 0 {
		return v
	}
	var buf bytes.Buffer
	if json.Compact(&buf, v) != nil {
		return v
	}
	return buf.Bytes()
}

// flagMetadata is the OpenFeature flag metadata served with flag f: its
// type.
func flagMetadata(f *Flag) json.RawMessage {
	if f.Type == "" {
		return nil
	}
	b, _ := json.Marshal(map[string]string{"type": string(f.Type)})
	return b
}

// specMaxAge bounds how long a cached spec is served without looking at
// the store again. Changes made through this Service invalidate the cache
// at once; the age limit picks up changes made by other replicas.
const specMaxAge = 5 * time.Second

// snapshot is the SDK spec of one environment with the domain objects it
// was built from.
type snapshot struct {
	version uint64
	built   time.Time
	spec    *assign.Spec
	etag    string
	json    []byte
	exps    map[string]*Experiment // running and paused
	running []string               // running experiment keys, sorted
	flags   map[string]*Flag
	flagKey []string // sorted
}

// specState is the per-Service cache of snapshots and the change
// subscribers of one Service.
type specState struct {
	version atomic.Uint64

	mu    sync.Mutex
	cache map[string]*snapshot

	subMu sync.Mutex
	subs  map[int]chan string
	next  int

	notifyMu sync.Mutex
}

func newSpecState() *specState {
	return &specState{cache: map[string]*snapshot{}, subs: map[int]chan string{}}
}

func (s *Service) state() *specState { return s.spec }

// changed records that an experiment or flag changed: cached specs are
// rebuilt on next use and subscribers are notified with the new ETag.
func (s *Service) changed() {
	st := s.state()
	st.version.Add(1)
	st.subMu.Lock()
	n := len(st.subs)
	st.subMu.Unlock()
	if n > 0 {
		go s.notify(st)
	}
}

// notify builds the spec of all environments and sends its ETag to every
// subscriber. A subscriber that has not read the previous ETag gets only
// the newest.
func (s *Service) notify(st *specState) {
	st.notifyMu.Lock()
	defer st.notifyMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, etag, err := s.SDKSpec(ctx, "")
	if err != nil {
		s.log.Warn("rebuild sdk spec after a change", "err", err)
		etag = "v" + strconv.FormatUint(st.version.Load(), 10)
	}
	st.subMu.Lock()
	defer st.subMu.Unlock()
	for _, ch := range st.subs {
		select {
		case ch <- etag:
		default:
			select {
			case <-ch:
			default:
			}
			select {
			case ch <- etag:
			default:
			}
		}
	}
}

// Subscribe returns a channel that receives a value after every change to
// an experiment or flag made through this Service: the ETag of the spec of
// all environments (a subscriber serving one environment should ask
// SDKSpec for its own ETag when notified). Only the newest value is kept
// for a slow reader. cancel unsubscribes and closes the channel.
func (s *Service) Subscribe() (<-chan string, func()) {
	st := s.state()
	ch := make(chan string, 1)
	st.subMu.Lock()
	id := st.next
	st.next++
	st.subs[id] = ch
	st.subMu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			st.subMu.Lock()
			delete(st.subs, id)
			close(ch)
			st.subMu.Unlock()
		})
	}
}

// SDKSpec returns the spec of environment env ("" for all environments)
// and its ETag: a hash of the spec's JSON, also set as the spec's Version.
// The spec is cached and rebuilt only after a change (or after a few
// seconds, to see changes made by other replicas). The returned spec is
// shared: callers must not modify it.
func (s *Service) SDKSpec(ctx context.Context, env string) (*assign.Spec, string, error) {
	snap, err := s.snapshot(ctx, env)
	if err != nil {
		return nil, "", err
	}
	return snap.spec, snap.etag, nil
}

// SDKConfig is SDKSpec as the JSON document served to SDKs.
func (s *Service) SDKConfig(ctx context.Context, env string) ([]byte, string, error) {
	snap, err := s.snapshot(ctx, env)
	if err != nil {
		return nil, "", err
	}
	return snap.json, snap.etag, nil
}

func (s *Service) snapshot(ctx context.Context, env string) (*snapshot, error) {
	st := s.state()
	st.mu.Lock()
	defer st.mu.Unlock()
	v := st.version.Load()
	if snap := st.cache[env]; snap != nil && snap.version == v && time.Since(snap.built) < specMaxAge {
		return snap, nil
	}
	snap, err := s.buildSnapshot(ctx, env)
	if err != nil {
		return nil, err
	}
	snap.version = v
	st.cache[env] = snap
	return snap, nil
}

func (s *Service) buildSnapshot(ctx context.Context, env string) (*snapshot, error) {
	all, err := s.store.ListExperiments(ctx, ExperimentFilter{Environment: env})
	if err != nil {
		return nil, fmt.Errorf("list experiments: %w", err)
	}
	flags, err := s.store.ListFlags(ctx, env)
	if err != nil {
		return nil, fmt.Errorf("list flags: %w", err)
	}
	snap := &snapshot{built: time.Now(), exps: map[string]*Experiment{}, flags: make(map[string]*Flag, len(flags))}
	var live []*Experiment
	for _, e := range all {
		if e.Status == StatusRunning || e.Status == StatusPaused {
			live = append(live, e)
			snap.exps[e.Key] = e
			if e.Status == StatusRunning {
				snap.running = append(snap.running, e.Key)
			}
		}
	}
	sort.Strings(snap.running)
	for _, f := range flags {
		snap.flags[f.Key] = f
		snap.flagKey = append(snap.flagKey, f.Key)
	}
	sort.Strings(snap.flagKey)
	spec, err := BuildSpec(live, flags)
	// An experiment that cannot be served (such as one whose layer range
	// overlaps another's) is left out rather than taking the whole
	// environment's config down with it.
	for err != nil {
		var de *Error
		key, isExp := "", false
		if errors.As(err, &de) {
			key, isExp = strings.CutPrefix(de.Field, "experiment:")
		}
		if !isExp || snap.exps[key] == nil {
			return nil, err
		}
		s.log.Error("experiment left out of the SDK config", "experiment", key, "err", err)
		delete(snap.exps, key)
		snap.running = slices.DeleteFunc(snap.running, func(k string) bool { return k == key })
		live = slices.DeleteFunc(live, func(e *Experiment) bool { return e.Key == key })
		spec, err = BuildSpec(live, flags)
	}
	if spec.OptOuts, err = s.sdkOptOuts(ctx); err != nil {
		return nil, err
	}
	body, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encode sdk spec: %w", err)
	}
	sum := sha256.Sum256(body)
	snap.etag = hex.EncodeToString(sum[:16])
	spec.Version = snap.etag
	if snap.json, err = json.Marshal(spec); err != nil {
		return nil, fmt.Errorf("encode sdk spec: %w", err)
	}
	snap.spec = spec
	return snap, nil
}
