package experiments

import (
	"context"
	"fmt"
	"slices"
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
// an ID seen before in the same Environment is a duplicate and changes
// nothing.
type Event struct {
	ID string
	// Environment is set by the Service, never by the client: for a
	// conversion the environment of the key that sent it ("" for a key
	// bound to none), for an exposure its experiment's. A conversion counts
	// for an experiment only when its Environment is the experiment's or ""
	// (sqlstore.CountsIn; docs/report.md, "Which conversions count").
	Environment string
	Type        EventType
	UnitID      string
	Timestamp   time.Time
	Experiment  string // exposure
	Variant     string // exposure
	Name        string // conversion: the metric, such as "purchase"
	Revenue     int64  // conversion, minor units
	// PromotionCost is the promotion's cost on this conversion in minor
	// units; nil when the client did not say (it is derived from the rule).
	PromotionCost *int64
	Currency      string
	OrderID       string
	Channel       string
	Attributes    map[string]string
	ReceivedAt    time.Time
	// CustomerID, when set and not UnitID, is the customer the unit
	// belongs to (the unit is another attribute of theirs, such as a
	// device ID, named by UnitAttribute; "" is LinkAttributeEvent). The
	// store records the link in the transaction that stores the event, so
	// that erasing the customer erases the unit's rows (links.go); the
	// event row does not keep it.
	CustomerID    string
	UnitAttribute string
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
	Err     *Error           // set when rejected: the first problem
	Errors  ValidationErrors // every problem of a rejected event (Err first)
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
// the future of now. The error names the field; it is the first of
// Problems.
func (e *Event) Validate(now time.Time, skew time.Duration) *Error {
	if p := e.Problems(now, skew); len(p) > 0 {
		return p[0]
	}
	return nil
}

// Problems is every problem Validate checks for, each naming its field, in
// the order of the fields: an event with several problems is answered with
// all of them. A zero now skips the check of timestamps in the future.
func (e *Event) Problems(now time.Time, skew time.Duration) ValidationErrors {
	var v ValidationErrors
	add := func(err *Error) {
		if err != nil {
			v = append(v, err)
		}
	}
	switch {
	case e.ID == "":
		v.add("event_id", "required", "is required")
	case len(e.ID) > MaxEventIDLen || !utf8.ValidString(e.ID) || strings.ContainsRune(e.ID, 0):
		v.add("event_id", "invalid", "must be valid UTF-8 without NUL characters, of at most %d bytes", MaxEventIDLen)
	}
	switch {
	case e.UnitID == "":
		v.add("unit_id", "required", "is required")
	case len(e.UnitID) > MaxUnitIDLen || !utf8.ValidString(e.UnitID) || strings.ContainsRune(e.UnitID, 0):
		v.add("unit_id", "invalid", "must be valid UTF-8 without NUL characters, of at most %d bytes", MaxUnitIDLen)
	}
	switch {
	case e.Timestamp.IsZero():
		v.add("timestamp", "required", "is required (RFC 3339)")
	case !now.IsZero() && e.Timestamp.After(now.Add(skew)):
		v.add("timestamp", "in_future", "is more than %s in the future", skew)
	case e.Timestamp.Before(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)):
		v.add("timestamp", "too_old", "is before 2000-01-01")
	}
	add(checkText("customer_id", e.CustomerID, MaxUnitIDLen))
	add(checkText("unit_attribute", e.UnitAttribute, MaxNameLen))
	add(checkText("channel", e.Channel, MaxNameLen))
	if len(e.Attributes) > MaxAttributes {
		v.add("attributes", "too_many", "at most %d attributes", MaxAttributes)
	} else {
		keys := make([]string, 0, len(e.Attributes))
		for k := range e.Attributes {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			add(checkText("attributes."+k, k+e.Attributes[k], MaxAttributeLen))
		}
	}
	switch e.Type {
	case EventExposure:
		if e.Experiment == "" {
			v.add("experiment", "required", "is required for an exposure")
		} else {
			add(checkText("experiment", e.Experiment, MaxNameLen))
		}
		if e.Variant == "" {
			v.add("variant", "required", "is required for an exposure")
		} else {
			add(checkText("variant", e.Variant, MaxNameLen))
		}
		if e.Revenue != 0 || e.PromotionCost != nil {
			v.add("revenue", "not_allowed", "an exposure carries no money")
		}
	case EventConversion:
		if !ValidKey(e.Name) {
			v.add("name", "invalid_name", "a conversion needs a name such as purchase (letters, digits, '_', '-', '.')")
		}
		if e.Revenue < 0 || e.Revenue > MaxMoney {
			v.add("revenue", "out_of_range", "must be between 0 and 2^53 minor units")
		}
		if e.PromotionCost != nil && (*e.PromotionCost < 0 || *e.PromotionCost > MaxMoney) {
			v.add("promotion_cost", "out_of_range", "must be between 0 and 2^53 minor units")
		}
		switch {
		case (e.Revenue != 0 || e.PromotionCost != nil) && e.Currency == "":
			v.add("currency", "required", "is required with revenue or promotion_cost (ISO 4217, such as KRW)")
		case e.Currency != "" && !ValidCurrency(e.Currency):
			v.add("currency", "unknown_currency", "unknown ISO 4217 currency %q", e.Currency)
		}
		add(checkText("order_id", e.OrderID, MaxEventIDLen))
	default:
		v.add("type", "unknown_type", "must be exposure or conversion")
	}
	return v
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
	// Currencies are the money of the analysed units by currency, for a
	// query without Dimension and Until (nil otherwise).
	Currencies []CurrencySums
}

// ChannelStore is an optional store capability: the attributed conversions
// of an experiment's analysed units credited to channels (docs/report.md,
// "Channel"): a conversion to its own channel when it carries one, else to
// the channel of its unit's first exposure, else to NoSlice. Both stores
// implement it.
type ChannelStore interface {
	ChannelCredit(ctx context.Context, q StatsQuery) ([]ChannelCredit, error)
}

// ChannelCredit are the attributed conversions named Metric of the
// analysed units of Variant credited to Channel, and their revenue (net of
// refunds, in minor units).
type ChannelCredit struct {
	Channel     string
	Variant     string
	Metric      string
	Conversions int64
	Revenue     float64
}

// MixedCurrency is the currency of a unit whose conversions of one name
// carry more than one currency.
const MixedCurrency = "*"

// CurrencySums are the attributed revenue and promotion cost of the
// analysed units of one variant whose conversions named Metric carry
// Currency (MixedCurrency: several; "": none), and how many units that is.
type CurrencySums struct {
	Variant  string
	Metric   string
	Currency string
	Units    int64
	Revenue  float64
	Cost     float64
}

// String is for debugging.
func (m MetricSums) String() string {
	return fmt.Sprintf("%s/%s/%s: conv=%d n=%g rev=%g", m.Slice, m.Variant, m.Metric, m.Converted, m.Count, m.Revenue)
}
