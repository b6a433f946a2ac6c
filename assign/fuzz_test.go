package assign

import "testing"

func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{
		`{}`, `null`, `{"country": {"$in": ["KR", "JP"]}}`,
		`{"$and": [{"a": 1}, {"$or": [{"b": {"$regex": "^x"}}, {"c": {"$exists": false}}]}]}`,
		`{"tags": {"$elemMatch": {"$eq": "a"}}, "v": {"$vgt": "1.2.3-beta"}}`,
		`{"n": {"$size": {"$gt": 2}}, "$not": {"x": {"$type": "string"}}}`,
		`{"id": {"$inGroup": "g"}, "x": {"$all": [1, "a"]}, "y": {"$nin": [null]}}`,
		`{"a.b.c": {"$not": {"$regexi": "(x"}}}`, `[1,2]`, `{"a": {"$bad": 1}}`,
	} {
		f.Add([]byte(s))
	}
	attrs := Attributes{"country": "KR", "a": 1.0, "tags": []any{"a", 2.0}, "v": "1.2.4", "n": []any{1.0, 2.0, 3.0},
		"x": map[string]any{"y": nil}, "id": "u1", "a.b.c": "q"}
	groups := SavedGroups{"g": {"u1", 2.0}}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, parse := range []func([]byte) (Condition, error){ParseCondition, ParseConditionLax} {
			c, err := parse(data)
			if err != nil {
				if c.root != nil {
					t.Fatal("error with a non-zero condition")
				}
				continue
			}
			c.Eval(attrs, groups)
			c.Eval(nil, nil)
			if _, err := c.MarshalJSON(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzDecodeSpec(f *testing.F) {
	f.Add([]byte(benchSpecJSON))
	f.Add([]byte(statSpec))
	f.Add([]byte(`{"layers":[{"key":"L"}],"holdouts":[{"key":"h","coverage":0.1}],"experiments":[{"key":"a","variations":[0,1],"meta":[{"key":"c"},{"key":"t"}],"layer":"L","layerRange":[0,0.5]}]}`))
	f.Add([]byte(`{"features":{"f":{"defaultValue":1,"rules":[{"force":2,"coverage":0.5},{"variations":[1,2],"parentConditions":[{"id":"f","condition":{"value":1}}]}]}}}`))
	f.Add([]byte(`{"experiments":[{"key":"x","variations":[1],"weights":[2]}]}`))
	f.Add([]byte(`{"features":{"a":{"rules":[{"parentConditions":[{"id":"b","condition":{"value":true},"gate":true}]}]},"b":{"rules":[{"parentConditions":[{"id":"a"}]}]}}}`))
	attrs := Attributes{"id": "u1", "country": "KR", "tier": "gold"}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, decode := range []func([]byte) (*Spec, error){DecodeSpec, DecodeSpecLax} {
			s, err := decode(data)
			if err != nil {
				continue
			}
			sticky := NewStickyDocs()
			for _, e := range s.Experiments {
				_, _ = s.Run(e.Key, attrs)
				_, _ = s.RunWith(&Eval{Attributes: attrs, Sticky: sticky, ForcedVariations: map[string]int{e.Key: 7}}, e.Key)
				_, _ = s.RunWith(&Eval{Attributes: attrs, Sticky: sticky}, e.Key)
			}
			for k := range s.Features {
				s.EvalFeature(k, attrs)
				s.EvalFeatureWith(&Eval{Attributes: attrs, Sticky: sticky}, k)
			}
			s.StickyBucketKeys(attrs)
		}
	})
}
