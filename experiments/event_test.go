package experiments_test

import (
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

func TestEventValidate(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	cost := int64(-1)
	exposure := func() experiments.Event {
		return experiments.Event{ID: "e1", Type: experiments.EventExposure, UnitID: "u1", Timestamp: now.Add(-time.Hour),
			Experiment: "spring-sale", Variant: "ten_off"}
	}
	conversion := func() experiments.Event {
		return experiments.Event{ID: "e2", Type: experiments.EventConversion, UnitID: "u1", Timestamp: now,
			Name: "purchase", Revenue: 125000, Currency: "KRW"}
	}
	tests := []struct {
		name      string
		event     func() experiments.Event
		wantField string
	}{
		{"valid exposure", exposure, ""},
		{"valid conversion", conversion, ""},
		{"no id", func() experiments.Event { e := exposure(); e.ID = ""; return e }, "event_id"},
		{"no unit", func() experiments.Event { e := exposure(); e.UnitID = ""; return e }, "unit_id"},
		{"future", func() experiments.Event { e := exposure(); e.Timestamp = now.Add(time.Hour); return e }, "timestamp"},
		{"within skew", func() experiments.Event { e := exposure(); e.Timestamp = now.Add(time.Minute); return e }, ""},
		{"late is fine", func() experiments.Event { e := exposure(); e.Timestamp = now.AddDate(0, -2, 0); return e }, ""},
		{"exposure without variant", func() experiments.Event { e := exposure(); e.Variant = ""; return e }, "variant"},
		{"negative revenue", func() experiments.Event { e := conversion(); e.Revenue = -5; return e }, "revenue"},
		{"negative cost", func() experiments.Event { e := conversion(); e.PromotionCost = &cost; return e }, "promotion_cost"},
		{"unknown currency", func() experiments.Event { e := conversion(); e.Currency = "ABC"; return e }, "currency"},
		{"money without currency", func() experiments.Event { e := conversion(); e.Currency = ""; return e }, "currency"},
		{"bad type", func() experiments.Event { e := conversion(); e.Type = "click"; return e }, "type"},
		{"invalid utf-8", func() experiments.Event { e := conversion(); e.UnitID = "\xff"; return e }, "unit_id"},
		{"NUL in id", func() experiments.Event { e := conversion(); e.ID = "e\x00"; return e }, "event_id"},
		{"NUL in unit", func() experiments.Event { e := conversion(); e.UnitID = "u\x001"; return e }, "unit_id"},
		{"NUL in experiment", func() experiments.Event { e := exposure(); e.Experiment = "spring\x00"; return e }, "experiment"},
		{"NUL in variant", func() experiments.Event { e := exposure(); e.Variant = "\x00"; return e }, "variant"},
		{"NUL in name", func() experiments.Event { e := conversion(); e.Name = "purchase\x00"; return e }, "name"},
		{"NUL in currency", func() experiments.Event { e := conversion(); e.Currency = "KRW\x00"; return e }, "currency"},
		{"NUL in order id", func() experiments.Event { e := conversion(); e.OrderID = "o\x00"; return e }, "order_id"},
		{"NUL in channel", func() experiments.Event { e := conversion(); e.Channel = "\x00web"; return e }, "channel"},
		{"with a customer", func() experiments.Event { e := conversion(); e.CustomerID = "cust-1"; return e }, ""},
		{"NUL in customer", func() experiments.Event { e := conversion(); e.CustomerID = "c\x00"; return e }, "customer_id"},
		{"long customer", func() experiments.Event {
			e := conversion()
			e.CustomerID = strings.Repeat("c", experiments.MaxUnitIDLen+1)
			return e
		}, "customer_id"},
		{"NUL in attribute key", func() experiments.Event {
			e := conversion()
			e.Attributes = map[string]string{"a\x00": "v"}
			return e
		}, "attributes.a\x00"},
		{"NUL in attribute value", func() experiments.Event {
			e := conversion()
			e.Attributes = map[string]string{"plan": "pro\x00"}
			return e
		}, "attributes.plan"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.event()
			err := e.Validate(now, experiments.DefaultClockSkew)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil || err.Field != tt.wantField {
				t.Fatalf("Validate() = %v, want an error on %s", err, tt.wantField)
			}
		})
	}
}

func TestCurrency(t *testing.T) {
	if d, ok := experiments.MinorUnits("KRW"); !ok || d != 0 {
		t.Errorf("KRW = %d, %v", d, ok)
	}
	if d, ok := experiments.MinorUnits("USD"); !ok || d != 2 {
		t.Errorf("USD = %d, %v", d, ok)
	}
	if experiments.ValidCurrency("usd") || experiments.ValidCurrency("") {
		t.Error("lower case and empty codes must be invalid")
	}
}

// An event links its unit to its customer only when the customer is
// another unit: the link's attribute is the event's UnitAttribute, else
// LinkAttributeEvent; EventLinks lists each link once.
func TestEventLinks(t *testing.T) {
	ev := func(unit, customer, attr string) experiments.Event {
		return experiments.Event{UnitID: unit, CustomerID: customer, UnitAttribute: attr}
	}
	got := experiments.EventLinks([]experiments.Event{
		ev("dev-1", "cust-1", "device_id"),
		ev("dev-1", "cust-1", "device_id"),   // again: listed once
		ev("cust-1", "cust-1", "id"),         // the customer itself: no link
		ev("dev-2", "", "device_id"),         // no customer: no link
		ev("phone-1", "cust-1", ""),          // an API event: the unit_id attribute
		ev("dev-3", "cust\x00", "device_id"), // not storable: no link
	})
	want := []experiments.UnitLink{
		{CustomerID: "cust-1", Attribute: "device_id", UnitID: "dev-1"},
		{CustomerID: "cust-1", Attribute: experiments.LinkAttributeEvent, UnitID: "phone-1"},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("EventLinks = %+v, want %+v", got, want)
	}
}
