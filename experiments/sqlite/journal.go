package sqlite

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlstore"
)

var _ experiments.ExposureJournal = (*Store)(nil)

// FoldExposures moves the oldest journal rows with seq <= through, about
// maxEvents events, into events and the rollups (the transaction of
// IngestEvents), deleting them in the same transaction. It returns how
// many events it took from the journal, duplicates included.
func (s *Store) FoldExposures(ctx context.Context, maxEvents int, through int64) (int, error) {
	if err := s.ingest.prepare(ctx, s.w); err != nil { // stmts.go
		return 0, wrap("fold exposures", err)
	}
	n := 0
	err := s.tx(ctx, func(tx *sqlx.Tx) error {
		rows, err := sqlstore.ReadJournal(ctx, tx, maxEvents, through)
		if err != nil || len(rows.Seqs) == 0 {
			return err
		}
		if err := s.ingestIn(ctx, tx, rows.Events, make([]bool, len(rows.Events))); err != nil {
			return err
		}
		// The only writer read the rows in order of seq: they are the
		// journal's rows from its first through the last one read.
		if _, err := tx.ExecContext(ctx, `DELETE FROM exposure_journal WHERE seq <= ?`, rows.Seqs[len(rows.Seqs)-1]); err != nil {
			return fmt.Errorf("delete journal rows: %w", err)
		}
		n = len(rows.Events)
		return nil
	})
	if err != nil {
		return 0, wrap("fold exposures", err)
	}
	return n, nil
}
