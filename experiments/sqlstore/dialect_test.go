package sqlstore_test

import (
	"testing"
	"time"

	"github.com/promolift/promolift/experiments/sqlstore"
)

func TestTimeRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 23, 9, 30, 15, 123456789, time.FixedZone("KST", 9*3600))
	want := at.UTC().Truncate(time.Microsecond)
	for _, enc := range []sqlstore.TimeEncoding{sqlstore.UnixMicros, sqlstore.Timestamp} {
		v, err := enc.Encode(at).Value()
		if err != nil {
			t.Fatal(err)
		}
		var got sqlstore.Time
		if err := got.Scan(v); err != nil {
			t.Fatalf("Scan(%T): %v", v, err)
		}
		if !got.Time.Equal(want) || got.Time.Location() != time.UTC || got.Enc != enc {
			t.Errorf("encoding %d: round trip %v (enc %d), want %v", enc, got.Time, got.Enc, want)
		}
	}
}

func TestTimeNull(t *testing.T) {
	for _, enc := range []sqlstore.TimeEncoding{sqlstore.UnixMicros, sqlstore.Timestamp} {
		if v, err := enc.Encode(time.Time{}).Value(); v != nil || err != nil {
			t.Errorf("zero time encodes as %v, %v; want NULL", v, err)
		}
	}
	got := sqlstore.Time{Time: time.Now()}
	if err := got.Scan(nil); err != nil || !got.Time.IsZero() {
		t.Errorf("NULL scans as %v, %v; want the zero time", got.Time, err)
	}
	if err := got.Scan("yesterday"); err == nil {
		t.Error("a string scanned without error")
	}
}
