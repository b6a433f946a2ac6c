package experiments

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/promolift/promolift/assign"
)

// Sticky assignments stored server-side (DESIGN.md §4, issue 4). An
// experiment with Sticky set is served with sticky bucketing on; Assign and
// the OpenFeature evaluation (EvaluateFlag, EvaluateFlags: the experiment
// read as a flag, or a flag rule that delegates to it) then load the unit's
// GrowthBook sticky bucket docs before evaluating and store the docs the
// evaluation changed, so a unit keeps its variant while the bucket version
// stays the same, whichever way the app asks.

// StickyKey identifies one sticky bucket doc: a unit attribute and the
// unit's value of it (stored in a column named unit_id, so customer
// erasure deletes it).
type StickyKey struct {
	AttributeName string
	UnitID        string
}

// StickyStore is what a store provides for server-side sticky
// assignments. Both stores implement it; the Service finds it by a type
// assertion on its Store, and without it Assign does no sticky bucketing.
type StickyStore interface {
	// LoadSticky returns the stored docs of keys; keys without a doc are
	// absent from the result, in no particular order.
	LoadSticky(ctx context.Context, keys []StickyKey) ([]assign.StickyDoc, error)
	// SaveSticky upserts docs in one statement. The assignments of a doc
	// are merged into the stored ones (a key in both takes the new value),
	// so concurrent saves for one unit keep every experiment's entry.
	SaveSticky(ctx context.Context, docs []assign.StickyDoc) error
}

// stickyKeyOK reports whether a unit value can be stored: valid UTF-8
// without NUL of at most MaxUnitIDLen bytes. Other values are evaluated
// without a stored doc.
func stickyKeyOK(name, value string) bool {
	return name != "" && value != "" && len(value) <= MaxUnitIDLen && len(name) <= MaxNameLen &&
		utf8.ValidString(name+value) && !strings.ContainsRune(name+value, 0)
}

// stickyRun is the sticky bucketing of one call (Assign, EvaluateFlag or
// EvaluateFlags; see unitAssignment); nil means none.
type stickyRun struct {
	st   StickyStore
	docs *assign.StickyDocs
}

// loadSticky loads the unit's docs when the store supports sticky
// assignments and an experiment of keys asks for them, in one query. A
// customer who opted out of promotions gets no sticky bucketing, so that
// nothing is stored about them.
func (s *Service) loadSticky(ctx context.Context, snap *snapshot, keys []string, attrs assign.Attributes, rights *rightsGuard) (*stickyRun, error) {
	st, ok := s.store.(StickyStore)
	if !ok {
		return nil, nil
	}
	want := false
	for _, k := range keys {
		if e := snap.exps[k]; e != nil && e.Sticky {
			want = true
			break
		}
	}
	if !want {
		return nil, nil
	}
	if optedOut, err := rights.optedOut(ctx); err != nil || optedOut {
		return nil, err
	}
	var sk []StickyKey
	for _, k := range snap.spec.StickyBucketKeys(attrs) {
		name, value, ok := strings.Cut(k, "||")
		if ok && stickyKeyOK(name, value) {
			sk = append(sk, StickyKey{AttributeName: name, UnitID: value})
		}
	}
	var docs []assign.StickyDoc
	if len(sk) > 0 {
		var err error
		if docs, err = st.LoadSticky(ctx, sk); err != nil {
			return nil, fmt.Errorf("load sticky assignments: %w", err)
		}
	}
	return &stickyRun{st: st, docs: assign.NewStickyDocs(docs...)}, nil
}

// run assigns the unit to experiment key, with its sticky docs if any.
func (r *stickyRun) run(spec *assign.Spec, key string, attrs assign.Attributes) (assign.Result, error) {
	if r == nil {
		return spec.Run(key, attrs)
	}
	return spec.RunWith(&assign.Eval{Attributes: attrs, Sticky: r.docs}, key)
}

// evalFeature evaluates the feature flag key for attrs, its experiment
// rules with the unit's sticky docs if any.
func (r *stickyRun) evalFeature(spec *assign.Spec, key string, attrs assign.Attributes) assign.FeatureResult {
	if r == nil {
		return spec.EvalFeature(key, attrs)
	}
	return spec.EvalFeatureWith(&assign.Eval{Attributes: attrs, Sticky: r.docs}, key)
}

// changed returns the docs the evaluations changed that save stores.
func (r *stickyRun) changed() []assign.StickyDoc {
	if r == nil {
		return nil
	}
	var out []assign.StickyDoc
	for _, d := range r.docs.Changed() {
		if stickyKeyOK(d.AttributeName, d.AttributeValue) {
			out = append(out, d)
		}
	}
	return out
}

// save stores the docs the evaluations changed, in one upsert.
func (r *stickyRun) save(ctx context.Context) error {
	out := r.changed()
	if len(out) == 0 {
		return nil
	}
	if err := r.st.SaveSticky(ctx, out); err != nil {
		return fmt.Errorf("save sticky assignments: %w", err)
	}
	return nil
}

// MergeStickyDocs returns docs with one doc per attribute and unit (the
// assignments of duplicates merged, later ones winning), sorted by
// attribute and unit, so that concurrent upserts lock rows in one order.
// Docs without assignments are dropped. For the stores.
func MergeStickyDocs(docs []assign.StickyDoc) []assign.StickyDoc {
	byKey := make(map[StickyKey]int, len(docs))
	out := make([]assign.StickyDoc, 0, len(docs))
	for _, d := range docs {
		if len(d.Assignments) == 0 {
			continue
		}
		k := StickyKey{AttributeName: d.AttributeName, UnitID: d.AttributeValue}
		i, dup := byKey[k]
		if !dup {
			byKey[k] = len(out)
			out = append(out, assign.StickyDoc{AttributeName: d.AttributeName, AttributeValue: d.AttributeValue,
				Assignments: maps.Clone(d.Assignments)})
			continue
		}
		maps.Copy(out[i].Assignments, d.Assignments)
	}
	slices.SortFunc(out, func(a, b assign.StickyDoc) int {
		return cmp.Or(cmp.Compare(a.AttributeName, b.AttributeName), cmp.Compare(a.AttributeValue, b.AttributeValue))
	})
	return out
}
