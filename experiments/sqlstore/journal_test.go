package sqlstore

import (
	"reflect"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// TestJournalRowRoundTrip: an event of a journal row is folded as it was
// appended, every field (timestamps to the microsecond the stores keep).
func TestJournalRowRoundTrip(t *testing.T) {
	cost := int64(1500)
	at := time.Date(2026, 12, 7, 21, 30, 1, 123456789, time.UTC)
	events := []experiments.Event{
		{ID: "e1", Environment: "production", Type: experiments.EventExposure, UnitID: "device-1", Timestamp: at,
			Experiment: "spring-sale", Variant: "ten_off", Channel: "app", Attributes: map[string]string{"tier": "gold", "ünï": "\"q\""},
			ReceivedAt: at.Add(time.Second), CustomerID: "cust-1", UnitAttribute: "device_id"},
		{ID: "e2", Type: experiments.EventConversion, UnitID: "u2", Timestamp: at, Name: "purchase", Revenue: 12000,
			PromotionCost: &cost, Currency: "KRW", OrderID: "o-9", ReceivedAt: at},
		{ID: "e3", Type: experiments.EventExposure, UnitID: "u3", Timestamp: at, Experiment: "x", Variant: "control", ReceivedAt: at},
	}
	data, err := EncodeJournal(events)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeJournal(nil, data)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]experiments.Event, len(events))
	for i, e := range events {
		e.Timestamp, e.ReceivedAt = e.Timestamp.Truncate(time.Microsecond), e.ReceivedAt.Truncate(time.Microsecond)
		want[i] = e
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded\n%+v\nwant\n%+v", got, want)
	}
	if _, err := decodeJournal(nil, []byte(`[{"id": 7}]`)); err == nil {
		t.Error("a row of the wrong form decoded without an error")
	}
}
