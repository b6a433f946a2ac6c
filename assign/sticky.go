package assign

import (
	"maps"
	"slices"
	"strconv"
)

// StickyDoc is a GrowthBook sticky bucket assignment document: for one unit
// (identified by an attribute name and value), experiment keys with their
// bucket version ("<key>__<bucketVersion>") mapped to variant keys.
type StickyDoc struct {
	AttributeName  string            `json:"attributeName"`
	AttributeValue string            `json:"attributeValue"`
	Assignments    map[string]string `json:"assignments"`
}

// StickyKey is the key of a doc: "<attributeName>||<attributeValue>".
func StickyKey(attributeName, attributeValue string) string {
	return attributeName + "||" + attributeValue
}

// StickyStore is provided by the caller for sticky bucketing. It is pure
// from the assigner's point of view: the caller loads the unit's docs
// before evaluation (see Spec.StickyBucketKeys) and persists the docs passed
// to Save afterwards.
type StickyStore interface {
	// Doc returns the doc of the unit whose attributeName has attributeValue.
	Doc(attributeName, attributeValue string) (StickyDoc, bool)
	// Save records a new or changed doc. The map in doc is fresh and owned by the store.
	Save(doc StickyDoc)
}

// StickyDocs is a StickyStore over in-memory docs keyed by StickyKey.
type StickyDocs struct {
	Docs    map[string]StickyDoc
	changed map[string]bool
}

// NewStickyDocs returns a StickyDocs holding docs.
func NewStickyDocs(docs ...StickyDoc) *StickyDocs {
	d := &StickyDocs{Docs: make(map[string]StickyDoc, len(docs))}
	for _, doc := range docs {
		d.Docs[StickyKey(doc.AttributeName, doc.AttributeValue)] = doc
	}
	return d
}

// Doc implements StickyStore.
func (d *StickyDocs) Doc(name, value string) (StickyDoc, bool) {
	doc, ok := d.Docs[StickyKey(name, value)]
	return doc, ok
}

// Save implements StickyStore.
func (d *StickyDocs) Save(doc StickyDoc) {
	k := StickyKey(doc.AttributeName, doc.AttributeValue)
	if d.Docs == nil {
		d.Docs = map[string]StickyDoc{}
	}
	if d.changed == nil {
		d.changed = map[string]bool{}
	}
	d.Docs[k] = doc
	d.changed[k] = true
}

// Changed returns the docs saved since creation, sorted by key: the docs
// the caller must persist.
func (d *StickyDocs) Changed() []StickyDoc {
	keys := slices.Sorted(maps.Keys(d.changed))
	out := make([]StickyDoc, 0, len(keys))
	for _, k := range keys {
		out = append(out, d.Docs[k])
	}
	return out
}

func stickyExpKey(key string, bucketVersion int) string {
	return key + "__" + strconv.Itoa(max(bucketVersion, 0))
}

// stickyVariation looks up the unit's sticky assignment. The fallback doc
// (fallbackAttribute, or "id" when unset) is read first and the hash
// attribute's doc overrides it, as in GrowthBook.
func (s *Spec) stickyVariation(ev *Eval, e *Experiment, hashAttribute, hashValue string) (variation int, blocked bool) {
	var docs [2]map[string]string
	primaryAttr, primaryVal, ok := hashAttr(ev.Attributes, e.HashAttribute, "")
	if ok {
		if d, found := ev.Sticky.Doc(primaryAttr, primaryVal); found {
			docs[1] = d.Assignments
		}
	}
	fb := e.FallbackAttribute
	if fb == "" {
		fb = "id"
	}
	if fa, fv, ok := hashAttr(ev.Attributes, fb, ""); ok && !(fa == primaryAttr && fv == primaryVal) {
		if d, found := ev.Sticky.Doc(fa, fv); found {
			docs[0] = d.Assignments
		}
	}
	lookup := func(k string) (string, bool) {
		if v, ok := docs[1][k]; ok {
			return v, true
		}
		v, ok := docs[0][k]
		return v, ok
	}
	for v := 0; v < e.MinBucketVersion; v++ {
		if _, ok := lookup(stickyExpKey(e.Key, v)); ok {
			return -1, true
		}
	}
	vk, ok := lookup(stickyExpKey(e.Key, e.BucketVersion))
	if !ok {
		return -1, false
	}
	for i, m := range e.Meta {
		if m.Key == vk {
			return i, false
		}
	}
	return -1, false
}

func saveSticky(store StickyStore, e *Experiment, attr, value, variantKey string) {
	k := stickyExpKey(e.Key, e.BucketVersion)
	doc, _ := store.Doc(attr, value)
	if old, ok := doc.Assignments[k]; ok && old == variantKey {
		return
	}
	a := make(map[string]string, len(doc.Assignments)+1)
	maps.Copy(a, doc.Assignments)
	a[k] = variantKey
	store.Save(StickyDoc{AttributeName: attr, AttributeValue: value, Assignments: a})
}

// StickyBucketKeys returns the StickyKey of every doc that evaluating this
// Spec for attrs may read: for every experiment and experiment rule, its
// hash attribute (default "id") and fallback attribute with the unit's
// values. Load these docs into the StickyStore before evaluating.
func (s *Spec) StickyBucketKeys(attrs Attributes) []string {
	seen := map[string]bool{}
	var out []string
	add := func(attr string) {
		if attr == "" {
			attr = "id"
		}
		if v, ok := hashString(attrs[attr]); ok {
			k := StickyKey(attr, v)
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	visit := func(e *Experiment) {
		add(e.HashAttribute)
		if e.FallbackAttribute != "" {
			add(e.FallbackAttribute)
		}
	}
	for i := range s.Experiments {
		visit(&s.Experiments[i])
	}
	for _, k := range sortedFeatureKeys(s.Features) {
		for _, r := range s.Features[k].Rules {
			if r.exp != nil {
				visit(r.exp)
			}
		}
	}
	slices.Sort(out)
	return out
}
