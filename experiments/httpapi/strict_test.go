package httpapi

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// fieldsOf lists the fields of field errors.
func fieldsOf(errs []FieldError) []string {
	out := make([]string, len(errs))
	for i, fe := range errs {
		out[i] = fe.Field
	}
	return out
}

// TestDefinitionsRejectUnknownFields: a definition with a field the API
// does not know (a typo such as variantz) is refused with 400
// unknown_field naming every such field, nested ones with their path;
// events and assignments stay lenient.
func TestDefinitionsRejectUnknownFields(t *testing.T) {
	e := newEnv(t, Config{})
	typo := experimentBody("typo")
	typo["variantz"] = typo["variants"]
	delete(typo, "variants")
	nested := experimentBody("nested")
	nested["variants"].([]any)[1].(map[string]any)["promotion"].(map[string]any)["valeu"] = 10
	nested["hypothesys"] = "x"
	cases := []struct {
		name, method, path string
		body               any
		want               []string
	}{
		{"experiment typo", "POST", "/api/v1/experiments", typo, []string{"variantz"}},
		{"experiment nested and top", "POST", "/api/v1/experiments", nested, []string{"hypothesys", "variants[1].promotion.valeu"}},
		{"flag", "POST", "/api/v1/flags", strings.Replace(designFlag, `"enabled": true`, `"enabled": true, "rulez": []`, 1), []string{"rulez"}},
		{"flag rule", "POST", "/api/v1/flags", strings.Replace(designFlag, `{"rollout": 0.25,`, `{"rolout": 0.25,`, 1), []string{"rules[1].rolout"}},
		{"key", "POST", "/api/v1/keys", `{"name": "shop", "scope": "sdk", "enviroment": "prod"}`, []string{"enviroment"}},
		{"cap group", "PUT", "/api/v1/cap-groups/promos", `{"max_exposures": 3, "window_hours": 168, "windw": 1}`, []string{"windw"}},
		{"consent", "PUT", "/api/v1/customers/c1/consent", `{"promotions": false, "promotion": true}`, []string{"promotion"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := problem(t, e.do(c.method, c.path, e.admin, c.body), 400)
			if p.Code != "unknown_field" || p.Field != c.want[0] {
				t.Fatalf("code %q field %q, want unknown_field %q: %+v", p.Code, p.Field, c.want[0], p)
			}
			if got := fieldsOf(p.Errors); !slices.Equal(got, c.want) {
				t.Fatalf("errors name %v, want %v", got, c.want)
			}
		})
	}
	t.Run("unknown field and wrong type together", func(t *testing.T) {
		b := experimentBody("both")
		b["coverage"] = "all"
		b["variantz"] = 1
		p := problem(t, e.do("POST", "/api/v1/experiments", e.admin, b), 400)
		if got := fieldsOf(p.Errors); !slices.Equal(got, []string{"coverage", "variantz"}) {
			t.Fatalf("errors name %v", got)
		}
	})
	t.Run("events stay lenient", func(t *testing.T) {
		e.startedExperiment("lenient")
		ts := time.Now().UTC().Format(time.RFC3339)
		body := `{"events": [{"event_id": "l1", "type": "exposure", "experiment": "lenient", "variant": "control",
			"unit_id": "u1", "timestamp": "` + ts + `", "sdk_future_field": {"x": 1}}], "batch_meta": 1}`
		m := decode(t, e.do("POST", "/api/v1/events", e.sdk, body))
		if m["accepted"] != float64(1) {
			t.Fatalf("an event with an unknown field was not accepted: %v", m)
		}
	})
}

// TestEventReportsEveryProblem: a rejected event lists all its problems,
// each with its field, both those found decoding it and those of the rules.
func TestEventReportsEveryProblem(t *testing.T) {
	e := newEnv(t, Config{})
	ts := time.Now().UTC().Format(time.RFC3339)
	cases := []struct {
		name  string
		event string
		want  []string
	}{
		{"types, timestamp and rules", `{"event_id": "p1", "type": "conversion", "name": "purchase", "unit_id": 5,
			"revenue": "12.50", "timestamp": "yesterday", "channel": 3}`,
			[]string{"unit_id", "revenue", "channel", "timestamp"}},
		{"rules only", `{"event_id": "p2", "type": "exposure"}`,
			[]string{"unit_id", "timestamp", "experiment", "variant"}},
		{"conversion rules", `{"event_id": "p3", "type": "conversion", "unit_id": "u", "timestamp": "` + ts + `",
			"name": "bad name!", "revenue": -1, "currency": "XXY"}`,
			[]string{"name", "revenue", "currency"}},
		{"wrong type and missing", `{"event_id": "p4", "type": "conversion", "name": "purchase", "timestamp": "` + ts + `",
			"revenue": 1.5}`, []string{"revenue", "unit_id"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := e.do("POST", "/api/v1/events", e.sdk, `{"events": [`+c.event+`]}`)
			wantStatus(t, w, 200)
			var resp EventsResponse
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			r := resp.Results[0]
			if r.Status != "rejected" {
				t.Fatalf("not rejected: %+v", r)
			}
			got := fieldsOf(r.Errors)
			slices.Sort(got)
			want := slices.Clone(c.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("errors name %v, want %v: %+v", fieldsOf(r.Errors), c.want, r.Errors)
			}
			if r.Field != r.Errors[0].Field || r.Code != r.Errors[0].Code {
				t.Fatalf("field/code %q/%q are not the first error %+v", r.Field, r.Code, r.Errors[0])
			}
			for _, fe := range r.Errors {
				if fe.Code == "" || !strings.Contains(fe.Detail, fe.Field) {
					t.Fatalf("error without code or not naming its field: %+v", fe)
				}
			}
		})
	}
}

// TestBodyReportsEveryProblem: a lenient body (assign) with several
// problems is refused naming each field, not only the first; a name that
// differs from a field only in case is an unknown member (ignored here,
// refused in a definition).
func TestBodyReportsEveryProblem(t *testing.T) {
	e := newEnv(t, Config{})
	cases := []struct {
		name, path, key, body string
		want                  []string
	}{
		{"assign", "/api/v1/assign", e.sdk,
			`{"unit_id": 5, "attributes": {"tags": [{"a": 1, "a": 2}], "plan": "x\u0000"}, "experiments": "spring", "log_exposure": "no"}`,
			[]string{"unit_id", "attributes.tags[0].a", "attributes.plan", "experiments", "log_exposure"}},
		{"definition", "/api/v1/keys", e.admin, `{"Name": "shop", "scope": 1, "scope": "sdk"}`,
			[]string{"scope", "scope", "Name"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := problem(t, e.do("POST", c.path, c.key, c.body), 400)
			if got := fieldsOf(p.Errors); !slices.Equal(got, c.want) {
				t.Fatalf("errors name %v, want %v: %+v", got, c.want, p.Errors)
			}
		})
	}
}

// TestProblemsBoundedBySize: a body lists up to maxFieldErrors problems,
// fewer when it is large (each costs passes over the whole body).
func TestProblemsBoundedBySize(t *testing.T) {
	bad := strings.Repeat(`"x",`, 30)
	for _, pad := range []int{0, 100_000, 300_000, 1 << 20} {
		body := []byte(`{"weights":[` + bad + `1],"pad":"` + strings.Repeat("a", pad) + `"}`)
		var v struct {
			Weights []float64 `json:"weights"`
		}
		want := min(maxFieldErrors, (fieldErrorBytes+len(body)-1)/len(body))
		if errs := decodeJSON(body, &v, lenient); len(errs) != want || errs[0].Field != "weights[0]" || errs[len(errs)-1].Field != fmt.Sprintf("weights[%d]", want-1) {
			t.Errorf("%d bytes: %d problems (%v), want %d", len(body), len(errs), fieldsOf(errs), want)
		}
	}
}
