package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/lib/pq"
	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlstore"
)

var _ experiments.ExposureJournal = (*Store)(nil)

// journalLock is the advisory lock that serializes the folds of the
// exposure journal, of every server on the database: a fold reads its rows
// under it, so no two folds take the same row.
const journalLock = lockBase - 1

// errPartitions stops a fold whose events need a partition of events
// not known to exist: FoldExposures makes it outside the transaction and
// folds again.
var errPartitions = errors.New("the events need new partitions")

// FoldExposures moves the oldest journal rows with seq <= through, about
// maxEvents events, into events and the rollups (the transaction of
// IngestEvents for exposures), deleting them in the same transaction. It
// returns how many events it took from the journal, duplicates included.
func (s *Store) FoldExposures(ctx context.Context, maxEvents int, through int64) (int, error) {
	n, events, err := s.foldJournal(ctx, maxEvents, through)
	if errors.Is(err, errPartitions) {
		if err = s.ensureBatchPartitions(ctx, events); err == nil { // partitions.go
			n, events, err = s.foldJournal(ctx, maxEvents, through)
		}
	}
	if missingPartition(err) {
		s.forgetBatchPartitions(events) // learnt again by the next fold
	}
	if err != nil {
		return 0, wrap("fold exposures", err)
	}
	if n > 0 {
		s.bumpEventsMarker(ctx)
	}
	return n, nil
}

// foldJournal is the transaction of FoldExposures: it returns how many
// events it folded and the events it read. One fold runs at a time
// (journalLock), so no two take the same row. It stops with
// errPartitions when the events need a partition not known to exist.
func (s *Store) foldJournal(ctx context.Context, maxEvents int, through int64) (int, []experiments.Event, error) {
	n := 0
	var events []experiments.Event
	err := s.stmts.tx(ctx, s, func(tx *rtx) error {
		n, events = 0, nil
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, journalLock); err != nil {
			return err
		}
		rows, err := sqlstore.ReadJournal(ctx, tx, maxEvents, through)
		if err != nil || len(rows.Seqs) == 0 {
			return err
		}
		events = rows.Events
		if !s.parts.knownAll(batchMonths(rows.Events)) {
			return errPartitions
		}
		links, buckets := ingestLocks(rows.Events)
		if err := s.ingestExposures(ctx, tx, rows.Events, links, buckets, make([]bool, len(rows.Events))); err != nil {
			return err
		}
		// By seq: a row appended with a lower seq than one read may have
		// committed after the read.
		if _, err := tx.ExecContext(ctx, `DELETE FROM exposure_journal WHERE seq = ANY(CAST(? AS BIGINT[]))`, pq.Array(rows.Seqs)); err != nil {
			return fmt.Errorf("delete journal rows: %w", err)
		}
		n = len(rows.Events)
		return nil
	})
	return n, events, err
}
