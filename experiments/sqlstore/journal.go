package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	json "github.com/go-json-experiment/json"

	"github.com/promolift/promolift/experiments"
)

// The exposure journal (experiments/exposurejournal.go; migration 0039):
// the group commit of exposures appends each batch as one row of
// exposure_journal, and the fold moves the oldest rows into events and the
// rollups in the transaction that deletes them. A row's events are a
// JSON array of journalEvent, written and read by this file only.

// journalEvent is one event of a journal row. The field names are the
// row format: a row written by one version is folded by the next.
type journalEvent struct {
	ID            string            `json:"id"`
	Environment   string            `json:"env,omitempty"`
	Type          string            `json:"type"`
	UnitID        string            `json:"unit"`
	Timestamp     int64             `json:"ts"` // unix microseconds
	Experiment    string            `json:"exp,omitempty"`
	Variant       string            `json:"var,omitempty"`
	Name          string            `json:"name,omitempty"`
	Revenue       int64             `json:"rev,omitempty"`
	PromotionCost *int64            `json:"cost,omitempty"`
	Currency      string            `json:"cur,omitempty"`
	OrderID       string            `json:"order,omitempty"`
	Channel       string            `json:"ch,omitempty"`
	Attributes    map[string]string `json:"attrs,omitempty"`
	ReceivedAt    int64             `json:"recv"` // unix microseconds
	CustomerID    string            `json:"cust,omitempty"`
	UnitAttribute string            `json:"unit_attr,omitempty"`
}

// EncodeJournal returns the journal row of events.
func EncodeJournal(events []experiments.Event) ([]byte, error) {
	rows := make([]journalEvent, len(events))
	for i := range events {
		e := &events[i]
		rows[i] = journalEvent{ID: e.ID, Environment: e.Environment, Type: string(e.Type), UnitID: e.UnitID,
			Timestamp: e.Timestamp.UnixMicro(), Experiment: e.Experiment, Variant: e.Variant, Name: e.Name,
			Revenue: e.Revenue, PromotionCost: e.PromotionCost, Currency: e.Currency, OrderID: e.OrderID,
			Channel: e.Channel, Attributes: e.Attributes, ReceivedAt: e.ReceivedAt.UnixMicro(),
			CustomerID: e.CustomerID, UnitAttribute: e.UnitAttribute}
	}
	b, err := json.Marshal(rows)
	if err != nil {
		return nil, fmt.Errorf("encode journal row: %w", err)
	}
	return b, nil
}

// decodeJournal appends the events of a journal row to events.
func decodeJournal(events []experiments.Event, data []byte) ([]experiments.Event, error) {
	var rows []journalEvent
	if err := json.Unmarshal(data, &rows); err != nil {
		return nil, fmt.Errorf("decode journal row: %w", err)
	}
	for _, r := range rows {
		events = append(events, experiments.Event{ID: r.ID, Environment: r.Environment, Type: experiments.EventType(r.Type),
			UnitID: r.UnitID, Timestamp: time.UnixMicro(r.Timestamp).UTC(), Experiment: r.Experiment, Variant: r.Variant,
			Name: r.Name, Revenue: r.Revenue, PromotionCost: r.PromotionCost, Currency: r.Currency, OrderID: r.OrderID,
			Channel: r.Channel, Attributes: r.Attributes, ReceivedAt: time.UnixMicro(r.ReceivedAt).UTC(),
			CustomerID: r.CustomerID, UnitAttribute: r.UnitAttribute})
	}
	return events, nil
}

// AppendExposures appends events to the exposure journal as one row, in
// one statement, so in one transaction (experiments.ExposureJournal).
func (s *Store) AppendExposures(ctx context.Context, events []experiments.Event) error {
	data, err := EncodeJournal(events)
	if err == nil {
		_, err = s.W.ExecContext(ctx, `INSERT INTO exposure_journal (events) VALUES (?)`, string(data))
	}
	return s.wrap("append exposures", err)
}

// ExposureJournalEnd returns the journal's last seq, 0 when it is empty
// (experiments.ExposureJournal).
func (s *Store) ExposureJournalEnd(ctx context.Context) (int64, error) {
	var end int64
	err := s.R.GetContext(ctx, &end, `SELECT COALESCE(MAX(seq), 0) FROM exposure_journal`)
	return end, s.wrap("exposure journal end", err)
}

// JournalRows is the oldest rows of the journal a fold takes: their seqs
// and their events.
type JournalRows struct {
	Seqs   []int64
	Events []experiments.Event
}

// RowQueryer runs a query with ? placeholders (rebinding them when its
// driver needs that).
type RowQueryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// ReadJournal reads, in order of seq, the oldest journal rows with seq <=
// through, until they hold maxEvents events or more (at least one row).
func ReadJournal(ctx context.Context, q RowQueryer, maxEvents int, through int64) (*JournalRows, error) {
	// Every row holds one event or more: maxEvents rows are enough.
	rows, err := q.QueryContext(ctx, `SELECT seq, events FROM exposure_journal WHERE seq <= ? ORDER BY seq LIMIT ?`,
		through, maxEvents)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	defer rows.Close()
	out := &JournalRows{}
	for rows.Next() && len(out.Events) < maxEvents {
		var seq int64
		var data []byte
		if err := rows.Scan(&seq, &data); err != nil {
			return nil, fmt.Errorf("read journal: %w", err)
		}
		if out.Events, err = decodeJournal(out.Events, data); err != nil {
			return nil, fmt.Errorf("journal row %d: %w", seq, err)
		}
		out.Seqs = append(out.Seqs, seq)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	return out, nil
}
