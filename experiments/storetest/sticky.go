package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/promolift/promolift/assign"
	"github.com/promolift/promolift/experiments"
)

// testSticky tests the server-side sticky assignments (issue 4).
func testSticky(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	setup := func(t *testing.T) experiments.StickyStore {
		s := newStore(t)
		st, ok := s.(experiments.StickyStore)
		if !ok {
			t.Fatalf("%T does not implement experiments.StickyStore", s)
		}
		return st
	}
	load := func(t *testing.T, st experiments.StickyStore, keys ...experiments.StickyKey) map[experiments.StickyKey]map[string]string {
		t.Helper()
		docs, err := st.LoadSticky(ctx(t), keys)
		must(t, err)
		out := map[experiments.StickyKey]map[string]string{}
		for _, d := range docs {
			k := experiments.StickyKey{AttributeName: d.AttributeName, UnitID: d.AttributeValue}
			if _, dup := out[k]; dup {
				t.Fatalf("LoadSticky returned %v twice", k)
			}
			out[k] = d.Assignments
		}
		return out
	}
	key := func(name, unit string) experiments.StickyKey {
		return experiments.StickyKey{AttributeName: name, UnitID: unit}
	}

	t.Run("RoundTrip", func(t *testing.T) {
		st := setup(t)
		unicode := "고객-7 \"quoted\" || pipes"
		must(t, st.SaveSticky(ctx(t), []assign.StickyDoc{
			{AttributeName: "id", AttributeValue: "u1", Assignments: map[string]string{"spring__1": "ten_off", "ship__2": "control"}},
			{AttributeName: "device_id", AttributeValue: "d1", Assignments: map[string]string{"spring__1": "control"}},
			{AttributeName: "id", AttributeValue: unicode, Assignments: map[string]string{"spring__1": "1"}},
		}))
		got := load(t, st, key("id", "u1"), key("device_id", "d1"), key("id", unicode), key("device_id", "u1"))
		want := map[experiments.StickyKey]map[string]string{
			key("id", "u1"):        {"spring__1": "ten_off", "ship__2": "control"},
			key("device_id", "d1"): {"spring__1": "control"},
			key("id", unicode):     {"spring__1": "1"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("loaded docs:\ngot  %v\nwant %v", got, want)
		}
	})
	t.Run("MissingKeysReturnNothing", func(t *testing.T) {
		st := setup(t)
		if got := load(t, st, key("id", "nobody"), key("device_id", "nobody")); len(got) != 0 {
			t.Fatalf("empty store: got %v", got)
		}
		if got := load(t, st); len(got) != 0 {
			t.Fatalf("no keys: got %v", got)
		}
		must(t, st.SaveSticky(ctx(t), nil))
		must(t, st.SaveSticky(ctx(t), []assign.StickyDoc{{AttributeName: "id", AttributeValue: "u1", Assignments: map[string]string{"a__1": "x"}}}))
		// The attribute name is part of the key.
		if got := load(t, st, key("device_id", "u1"), key("id", "u2")); len(got) != 0 {
			t.Fatalf("other keys: got %v", got)
		}
	})
	t.Run("Upsert", func(t *testing.T) {
		st := setup(t)
		must(t, st.SaveSticky(ctx(t), []assign.StickyDoc{
			{AttributeName: "id", AttributeValue: "u1", Assignments: map[string]string{"spring__1": "control"}},
			{AttributeName: "id", AttributeValue: "u2", Assignments: map[string]string{"spring__1": "control"}},
		}))
		// A changed entry is replaced, a new one added, the others kept;
		// duplicates within one call are merged.
		must(t, st.SaveSticky(ctx(t), []assign.StickyDoc{
			{AttributeName: "id", AttributeValue: "u1", Assignments: map[string]string{"spring__2": "ten_off"}},
			{AttributeName: "id", AttributeValue: "u2", Assignments: map[string]string{"spring__1": "ten_off"}},
			{AttributeName: "id", AttributeValue: "u2", Assignments: map[string]string{"ship__1": "free"}},
		}))
		got := load(t, st, key("id", "u1"), key("id", "u2"))
		want := map[experiments.StickyKey]map[string]string{
			key("id", "u1"): {"spring__1": "control", "spring__2": "ten_off"},
			key("id", "u2"): {"spring__1": "ten_off", "ship__1": "free"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("after upsert:\ngot  %v\nwant %v", got, want)
		}
	})
	t.Run("ManyKeys", func(t *testing.T) {
		st := setup(t)
		var docs []assign.StickyDoc
		var keys []experiments.StickyKey
		for i := range 1200 {
			u := fmt.Sprintf("u%04d", i)
			keys = append(keys, key("id", u))
			if i%2 == 0 {
				docs = append(docs, assign.StickyDoc{AttributeName: "id", AttributeValue: u, Assignments: map[string]string{"spring__1": u}})
			}
		}
		must(t, st.SaveSticky(ctx(t), docs))
		got := load(t, st, keys...)
		if len(got) != 600 {
			t.Fatalf("loaded %d docs, want 600", len(got))
		}
		for k, a := range got {
			if a["spring__1"] != k.UnitID {
				t.Fatalf("%v: %v", k, a)
			}
		}
	})
	t.Run("ConcurrentSavesForOneUnit", func(t *testing.T) {
		st := setup(t)
		const writers = 8
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Go(func() {
				for i := range 10 {
					// Every writer touches the same units, in different orders.
					docs := []assign.StickyDoc{
						{AttributeName: "id", AttributeValue: "shared", Assignments: map[string]string{fmt.Sprintf("exp%d__1", w): "v" + fmt.Sprint(i)}},
						{AttributeName: "device_id", AttributeValue: "shared", Assignments: map[string]string{fmt.Sprintf("exp%d__1", w): "v" + fmt.Sprint(i)}},
						{AttributeName: "id", AttributeValue: fmt.Sprintf("own%d", w), Assignments: map[string]string{"spring__1": "control"}},
					}
					if w%2 == 1 {
						slices.Reverse(docs)
					}
					if err := st.SaveSticky(ctx(t), docs); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent SaveSticky: %v", err)
		}
		got := load(t, st, key("id", "shared"), key("device_id", "shared"))
		for _, k := range []experiments.StickyKey{key("id", "shared"), key("device_id", "shared")} {
			a := got[k]
			if len(a) != writers {
				t.Fatalf("%v: %v, want one entry per writer (merged, none lost)", k, a)
			}
			for w := range writers {
				if v := a[fmt.Sprintf("exp%d__1", w)]; v != "v9" {
					t.Fatalf("%v: writer %d's entry is %q, want its last value v9 (%v)", k, w, v, a)
				}
			}
		}
	})
	t.Run("OFREPMatchesAssign", func(t *testing.T) { testStickyParity(t, newStore) }) // parity.go
	t.Run("ErasedWithTheCustomer", func(t *testing.T) {
		s := newStore(t)
		st, ok := s.(experiments.StickyStore)
		cs, ok2 := s.(experiments.CustomerStore)
		if !ok || !ok2 {
			t.Skipf("%T lacks StickyStore or CustomerStore", s)
		}
		must(t, st.SaveSticky(ctx(t), []assign.StickyDoc{
			{AttributeName: "id", AttributeValue: "cust-9", Assignments: map[string]string{"spring__1": "ten_off"}},
			{AttributeName: "id", AttributeValue: "cust-8", Assignments: map[string]string{"spring__1": "ten_off"}},
		}))
		deleted, _, err := cs.EraseCustomer(ctx(t), "cust-9", nil)
		must(t, err)
		if deleted["sticky_assignments"] != 1 {
			t.Fatalf("erasure deleted %v, want 1 row of sticky_assignments", deleted)
		}
		got := load(t, st, key("id", "cust-9"), key("id", "cust-8"))
		if _, ok := got[key("id", "cust-9")]; ok || len(got) != 1 {
			t.Fatalf("after erasure: %v, want only cust-8", got)
		}
		if tf, ok := s.(TextFinder); ok {
			where, err := tf.TablesContaining(ctx(t), "cust-9")
			must(t, err)
			if slices.ContainsFunc(where, func(w string) bool { return strings.HasPrefix(w, "sticky_assignments.") }) {
				t.Fatalf("cust-9 still in %v", where)
			}
		}
	})
}
