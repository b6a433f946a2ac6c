package assign

import (
	"encoding/json"
	"errors"
	"testing"
)

// consentSpec is a spec with a Consent experiment and a plain one, round-
// tripped through JSON as an SDK receives it.
func consentSpec(t *testing.T, o *OptOuts) *Spec {
	t.Helper()
	spec := &Spec{OptOuts: o, Experiments: []Experiment{
		{Key: "promo", Variations: []json.RawMessage{[]byte(`"control"`), []byte(`"ten_off"`)}, Meta: []VariationMeta{{Key: "control"}, {Key: "ten_off"}}, Weights: []float64{0, 1}, Consent: true},
		{Key: "plain", Variations: []json.RawMessage{[]byte(`"a"`), []byte(`"b"`)}, Meta: []VariationMeta{{Key: "a"}, {Key: "b"}}, Weights: []float64{0, 1}},
	}}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeSpec(b)
	if err != nil {
		t.Fatalf("DecodeSpec: %v", err)
	}
	return got
}

func TestCheckConsent(t *testing.T) {
	listed := NewOptOuts("id", "salt-1", []string{"u-out", "u-out", "other"}, true)
	tests := []struct {
		name      string
		optOuts   *OptOuts
		check     bool
		exp       string
		attrs     Attributes
		wantIn    bool
		wantValue string
		wantWhy   Reason
	}{
		{"listed unit gets control", listed, true, "promo", Attributes{"id": "u-out"}, false, `"control"`, ReasonOptedOut},
		{"unlisted unit is assigned", listed, true, "promo", Attributes{"id": "u-in"}, true, `"ten_off"`, ReasonAssigned},
		{"no unit id: no consent to withdraw", listed, true, "promo", Attributes{"device": "d"}, false, `"control"`, ReasonNoHashAttribute},
		{"numeric id is not read as consent", listed, true, "promo", Attributes{"id": 7}, true, `"ten_off"`, ReasonAssigned},
		{"incomplete list: nobody", NewOptOuts("id", "salt-1", []string{"u-out"}, false), true, "promo", Attributes{"id": "u-in"}, false, `"control"`, ReasonConsentUnknown},
		{"no list: nobody", nil, true, "promo", Attributes{"id": "u-in"}, false, `"control"`, ReasonConsentUnknown},
		{"experiment without consent", listed, true, "plain", Attributes{"id": "u-out"}, true, `"b"`, ReasonAssigned},
		{"server evaluation ignores the list", listed, false, "promo", Attributes{"id": "u-out"}, true, `"ten_off"`, ReasonAssigned},
		{"another salt does not match", NewOptOuts("id", "salt-2", []string{"u-in"}, true), true, "promo", Attributes{"id": "u-out"}, true, `"ten_off"`, ReasonAssigned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := consentSpec(t, tt.optOuts)
			r, err := spec.RunWith(&Eval{Attributes: tt.attrs, CheckConsent: tt.check}, tt.exp)
			if err != nil {
				t.Fatal(err)
			}
			if r.InExperiment != tt.wantIn || string(r.Value) != tt.wantValue || r.Reason != tt.wantWhy {
				t.Errorf("got in=%v %s %s, want in=%v %s %s", r.InExperiment, r.Value, r.Reason, tt.wantIn, tt.wantValue, tt.wantWhy)
			}
		})
	}
}

func TestOptOutsListing(t *testing.T) {
	o := NewOptOuts("id", "s", []string{"b", "a", "b"}, true)
	if len(o.Hashes) != 2 || o.Hashes[0] > o.Hashes[1] {
		t.Errorf("hashes %v: want 2, sorted, no duplicate", o.Hashes)
	}
	if h := OptOutHash("s", "a"); h != o.Hashes[0] && h != o.Hashes[1] || len(h) != 16 {
		t.Errorf("OptOutHash(s, a) = %q, not listed in %v", h, o.Hashes)
	}
	if o := NewOptOuts("id", "s", []string{"a"}, false); len(o.Hashes) != 0 || o.Complete {
		t.Errorf("incomplete list %+v: want no hashes", o)
	}
	_, err := DecodeSpec([]byte(`{"optOuts": {"attribute": "id", "salt": "s", "hashes": ["zz"], "complete": true}}`))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "optOuts.hashes[0]" {
		t.Errorf("bad hash: %v, want a FieldError on optOuts.hashes[0]", err)
	}
}
