// Package assign is promolift's deterministic assigner: hashing, bucket
// ranges, namespaces, layers, holdouts, targeting conditions, variant choice,
// sticky-bucket rules and feature-flag evaluation. It is compatible with the
// GrowthBook SDK specification 0.8.0 (the conformance suite cases.json
// passes), so a unit gets the same variant from promolift and from any
// GrowthBook SDK, and GrowthBook payloads decode as a Spec.
//
// The package is pure: standard library only, no I/O, no clock, no
// context.Context, no logging. Bad input is reported as an error, never a
// panic.
//
// # API
//
//	spec, err := assign.DecodeSpec(data)              // validate + compile once
//	res, err := spec.Run("spring-sale", assign.Attributes{"id": "u-1", "country": "KR"})
//	res.VariantKey, res.InExperiment, res.Value       // "ten_off", true, "\"ten_off\""
//	fr := spec.EvalFeature("spring-sale-gate", attrs) // fr.Value, fr.On, fr.Source, fr.RuleID
//
// RunWith and EvalFeatureWith take an *Eval carrying GrowthBook's context
// switches: forced variations, enabled (Disabled), QA mode and a StickyStore.
// ParseCondition compiles a condition alone. DecodeSpecLax and
// ParseConditionLax accept what GrowthBook SDKs accept (unknown operators
// evaluate to false, bad weights fall back to equal weights).
//
// Run on an experiment with a compiled condition does not allocate when the
// hash attribute is a string: conditions are compiled at decode time, the
// hash is computed incrementally (no seed+value concatenation, the seed's
// FNV state is precomputed) and the version-2 intermediate decimal is
// formatted into a stack buffer.
//
// # Hash, byte for byte
//
// fnv32a(bytes) is 32-bit FNV-1a: h = 0x811C9DC5; for each byte b:
// h = (h XOR b) * 0x01000193 mod 2^32. Strings are hashed as their UTF-8
// bytes (GrowthBook's JS SDK hashes UTF-16 code units; the two agree on
// ASCII).
//
//   - Version 1: n = (fnv32a(value || seed) mod 1000) / 1000. Value first,
//     then seed, no separator. n is a multiple of 0.001 in [0, 0.999].
//   - Version 2: h1 = fnv32a(seed || value); d = h1 written in unsigned
//     base 10, no padding, no sign; n = (fnv32a(d) mod 10000) / 10000.
//     n is a multiple of 0.0001 in [0, 0.9999].
//   - Version 0 is read as 1; any other version is invalid (Hash returns
//     false; the unit is not in the experiment).
//
// The seed is the experiment's seed, or its key when unset. The hashed
// value is the attribute named by hashAttribute (default "id"); when it is
// missing or unusable, fallbackAttribute is tried. A usable value is a
// non-empty string, or a finite non-zero number written as JavaScript's
// String(n) ("123", "1.5"). Otherwise the unit is not in the experiment
// and HashUsed is false.
//
// The version on the wire defaults to 1, as in GrowthBook; promolift's
// server writes hashVersion 2 explicitly.
//
// Worked example, seed "spring-sale", unit "user-123456":
//
//	version 2: fnv32a("spring-saleuser-123456") = 0xDF475BAD = 3745995693
//	           fnv32a("3745995693")             = 3428369753
//	           3428369753 mod 10000 = 9753      → n = 0.9753
//	version 1: fnv32a("user-123456spring-sale") = 212029813
//	           212029813 mod 1000 = 813         → n = 0.813
//
// (The first two FNV steps over "sp": 0x811C9DC5 XOR 's' = 0x811C9DB6,
// times the prime = 0xF60C4582; XOR 'p', times the prime = 0x47521BF6.)
//
// # Bucket ranges and variant choice
//
// BucketRanges(n, coverage, weights): clamp coverage into [0, 1]; use equal
// weights 1/n when weights are absent, of the wrong length, or sum outside
// [0.99, 1.01]; variation i's range is [start_i, start_i + coverage*w_i)
// where start_i is the sum of the weights before i. Lowering coverage
// shrinks every range from its right edge, so raising it later never moves
// a unit to another variation. An explicit "ranges" replaces the computed
// ones. ChooseVariation returns the first i with start_i <= n < end_i, or
// -1 (not in the experiment). Example: with equal weights and coverage 1 the
// ranges are [0, 0.5) and [0.5, 1), so the unit above (n = 0.9753, version
// 2) gets variation 1; coverage 0.2 with weights [.2, .3, .5] gives
// [0, .04), [.2, .26), [.5, .6).
//
// # Namespaces, layers, holdouts, filters
//
// A namespace [id, start, end] admits a unit when Hash("__"+id, unit, 1) is
// in [start, end); e.g. namespace "checkout" for "user-123456" hashes
// "user-123456__checkout" → 12920676 mod 1000 → 0.676. A layer L is the
// namespace L: an experiment with layer L and layerRange [a, b) behaves as
// namespace [L, a, b), and DecodeSpec rejects overlapping ranges within a
// layer, so a unit is in at most one experiment of a layer. A holdout
// removes units with Hash(seed or key, unit, hashVersion or 2) < coverage
// from every experiment it covers; they get variation 0 (control) with
// Reason "holdout" (checked after forced variations, before sticky buckets
// and targeting). Filters hash with Hash(filter.seed, unit,
// filter.hashVersion or 2) and require the result in one of filter.ranges;
// when an experiment has filters its namespace is ignored (GrowthBook).
//
// # Evaluation order of Run
//
// Fewer than 2 variations, Eval.Disabled, forced variation
// (Eval.ForcedVariations), inactive / draft / stopped, hash attribute,
// holdouts, sticky bucket (blocked when a doc holds an assignment for a
// bucket version below minBucketVersion), then — unless a sticky bucket was
// found — filters or namespace/layer, condition, prerequisites; then the
// hash, variant choice, experiment force, QA mode; the sticky doc is saved
// when the unit is in the experiment.
//
// # Sticky bucketing
//
// Docs are GrowthBook's {attributeName, attributeValue, assignments} with
// assignments keyed "<experimentKey>__<bucketVersion>" → variant key. The
// caller loads the unit's docs (Spec.StickyBucketKeys lists them) into a
// StickyStore, passes it in Eval.Sticky and persists what it receives in
// Save (StickyDocs.Changed). One difference from GrowthBook: the fallback
// attribute is honoured whether or not a sticky store is given (GrowthBook
// only uses it with a sticky bucket service); DisableStickyBucketing turns
// it off.
package assign
