package experiments

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// EventType is exposure or conversion.
type EventType string

// The event types.
const (
	EventExposure   EventType = "exposure"
	EventConversion EventType = "conversion"
)

// Event is an exposure (the unit was shown a variant of an experiment) or a
// conversion (the unit did something worth counting, such as a purchase).
// Money is in integer minor units of Currency. ID is chosen by the client;
// an ID seen before is a duplicate and changes nothing.
type Event struct {
	ID         string
	Type       EventType
	UnitID     string
	Timestamp  time.Time
	Experiment string // exposure
	Variant    string // exposure
	Name       string // conversion: the metric, such as "purchase"
	Revenue    int64  // conversion, minor units
	// PromotionCost is the promotion's cost on this conversion in minor
	// units; nil when the client did not say (it is derived from the rule).
	PromotionCost *int64
	Currency      string
	OrderID       string
	Channel       string
	Attributes    map[string]string
	ReceivedAt    time.Time
}

// EventStatus is the outcome of one event in a batch.
type EventStatus string

// The outcomes.
const (
	EventAccepted  EventStatus = "accepted"
	EventDuplicate EventStatus = "duplicate"
	EventRejected  EventStatus = "rejected"
)

// EventOutcome is what happened to the event at Index of a batch.
type EventOutcome struct {
	Index   int
	EventID string
	Status  EventStatus
	Err     *Error // set when rejected
}

// Limits on events.
const (
	MaxEventIDLen    = 128
	MaxUnitIDLen     = 256
	MaxNameLen       = 128
	MaxAttributes    = 32
	MaxAttributeLen  = 256
	MaxMoney         = int64(1) << 53 // integers beyond this lose precision in JSON clients
	DefaultClockSkew = 5 * time.Minute
)

// Validate checks one event against the rules that need no store: required
// fields, lengths, money, currency, and timestamps no further than skew in
// the future of now. The error names the field.
func (e *Event) Validate(now time.Time, skew time.Duration) *Error {
	switch {
	case e.ID == "":
		return Invalid("event_id", "required", "is required")
	case len(e.ID) > MaxEventIDLen || !utf8.ValidString(e.ID) || strings.ContainsRune(e.ID, 0):
		return Invalid("event_id", "invalid", "must be valid UTF-8 without NUL characters, of at most %d bytes", MaxEventIDLen)
	case e.UnitID == "":
		return Invalid("unit_id", "required", "is required")
	case len(e.UnitID) > MaxUnitIDLen || !utf8.ValidString(e.UnitID) || strings.ContainsRune(e.UnitID, 0):
		return Invalid("unit_id", "invalid", "must be valid UTF-8 without NUL characters, of at most %d bytes", MaxUnitIDLen)
	case e.Timestamp.IsZero():
		return Invalid("timestamp", "required", "is required (RFC 3339)")
	case e.Timestamp.After(now.Add(skew)):
		return Invalid("timestamp", "in_future", "is more than %s in the future", skew)
	case e.Timestamp.Before(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)):
		return Invalid("timestamp", "too_old", "is before 2000-01-01")
	}
	if err := checkText("channel", e.Channel, MaxNameLen); err != nil {
		return err
	}
	if len(e.Attributes) > MaxAttributes {
		return Invalid("attributes", "too_many", "at most %d attributes", MaxAttributes)
	}
	for k, v := range e.Attributes {
		if err := checkText("attributes."+k, k+v, MaxAttributeLen); err != nil {
			return err
		}
	}
	switch e.Type {
	case EventExposure:
		if e.Experiment == "" {
			return Invalid("experiment", "required", "is required for an exposure")
		}
		if err := checkText("experiment", e.Experiment, MaxNameLen); err != nil {
			return err
		}
		if e.Variant == "" {
			return Invalid("variant", "required", "is required for an exposure")
		}
		if err := checkText("variant", e.Variant, MaxNameLen); err != nil {
			return err
		}
		if e.Revenue != 0 || e.PromotionCost != nil {
			return Invalid("revenue", "not_allowed", "an exposure carries no money")
		}
	case EventConversion:
		if !ValidKey(e.Name) {
			return Invalid("name", "invalid_name", "a conversion needs a name such as purchase (letters, digits, '_', '-', '.')")
		}
		if e.Revenue < 0 || e.Revenue > MaxMoney {
			return Invalid("revenue", "out_of_range", "must be between 0 and 2^53 minor units")
		}
		if e.PromotionCost != nil && (*e.PromotionCost < 0 || *e.PromotionCost > MaxMoney) {
			return Invalid("promotion_cost", "out_of_range", "must be between 0 and 2^53 minor units")
		}
		if (e.Revenue != 0 || e.PromotionCost != nil) && e.Currency == "" {
			return Invalid("currency", "required", "is required with revenue or promotion_cost (ISO 4217, such as KRW)")
		}
		if e.Currency != "" && !ValidCurrency(e.Currency) {
			return Invalid("currency", "unknown_currency", "unknown ISO 4217 currency %q", e.Currency)
		}
		if err := checkText("order_id", e.OrderID, MaxEventIDLen); err != nil {
			return err
		}
	default:
		return Invalid("type", "unknown_type", "must be exposure or conversion")
	}
	return nil
}

func checkText(field, s string, max int) *Error {
	if len(s) > max || !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return Invalid(field, "invalid", "must be valid UTF-8 without NUL characters, of at most %d bytes", max)
	}
	return nil
}

// MultipleExposure says what an analysis does with units exposed to more
// than one variant of one experiment.
type MultipleExposure string

// The options: exclude them (the default), or count them in the variant of
// their first exposure.
const (
	MultipleExclude MultipleExposure = "exclude"
	MultipleFirst   MultipleExposure = "first"
)

// StatsQuery asks a store for the sufficient statistics of one experiment.
type StatsQuery struct {
	Experiment string
	// Dimension, when set, splits the statistics by the value of this
	// attribute of each unit's first exposure ("channel" reads the event's
	// channel, "hour" the UTC hour "00".."23" of the first exposure,
	// "hour/channel" both, as "09/email");
	// units without it fall in the slice "(none)".
	Dimension string
	// Until, when set, counts only exposures and conversions before it.
	Until time.Time
	// AsOf is the cut-off of CohortStats when Until is zero (zero: now):
	// the units come from the rollups, only the weeks completed by AsOf
	// count, and conversions from AsOf on are ignored.
	AsOf             time.Time
	MultipleExposure MultipleExposure
	// PrePeriod asks for the CUPED pre-period sums (MetricSums.PreSum,
	// PreSumSquares, PreCrossSum), which read the raw events of the
	// experiment's units; without it they are 0 and only the rollups are read.
	PrePeriod bool
}

// NoSlice is the slice of units that lack the breakdown attribute.
const NoSlice = "(none)"

// The dimensions that are not attributes: the event's channel, the UTC
// hour ("00".."23") of the unit's first exposure, and both at once
// ("09/email": hour, a slash, then the channel or NoSlice).
const (
	DimensionChannel     = "channel"
	DimensionHour        = "hour"
	DimensionHourChannel = "hour/channel"
)

// VariantCounts are the unit counts of one variant in one slice.
type VariantCounts struct {
	Slice     string // "" without a dimension
	Variant   string
	Units     int64 // units analysed
	Exposures int64 // exposure events of those units
	// MultipleExposed counts units seen in more than one variant whose
	// first exposure was in this variant (excluded unless MultipleFirst).
	MultipleExposed int64
}

// MetricSums are the sufficient statistics of one conversion name in one
// variant and slice, over the analysed units: with y_u the unit's count of
// attributed conversions and r_u its attributed revenue, Count = Σ y_u,
// CountSquares = Σ y_u², Revenue = Σ r_u, RevenueSquares = Σ r_u²,
// RevenueCount = Σ r_u·y_u; Converted counts units with y_u > 0; Cost is the
// total promotion cost of the attributed conversions. For CUPED, with x_u
// the unit's revenue of this conversion name in the PrePeriod before its
// first exposure, PreSum = Σ x_u, PreSumSquares = Σ x_u², PreCrossSum =
// Σ x_u·r_u (all 0 when no unit bought before its exposure).
type MetricSums struct {
	Slice          string
	Variant        string
	Metric         string
	Converted      int64
	Count          float64
	CountSquares   float64
	Revenue        float64
	RevenueSquares float64
	RevenueCount   float64
	Cost           float64
	PreSum         float64
	PreSumSquares  float64
	PreCrossSum    float64
}

// PrePeriod is the CUPED pre-period: the days before a unit's first
// exposure whose revenue is the covariate of the revenue metrics.
const PrePeriod = 28 * 24 * time.Hour

// SufficientStats is a store's answer to a StatsQuery.
type SufficientStats struct {
	Variants []VariantCounts
	Metrics  []MetricSums
}

// String is for debugging.
func (m MetricSums) String() string {
	return fmt.Sprintf("%s/%s/%s: conv=%d n=%g rev=%g", m.Slice, m.Variant, m.Metric, m.Converted, m.Count, m.Revenue)
}
