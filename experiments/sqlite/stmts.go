package sqlite

import (
	"context"
	"database/sql"
	"sync"

	"github.com/jmoiron/sqlx"
)

// The statements of the ingest transaction (IngestEvents), prepared once
// on the writer connection instead of parsed again by every batch: with
// the group commit of exposures, one batch per commit of the single
// writer, the parsing cost as much as the rest of the SQL. They are
// prepared before the transaction begins (the pool has one connection,
// which the transaction holds), after the temp tables touched and
// converted exist on that connection; database/sql prepares them again on
// a new connection should it replace the writer's.

// ingestStmts are the prepared statements by their SQL.
type ingestStmts struct {
	mu    sync.Mutex
	stmts map[string]*sqlx.Stmt // nil until prepared
}

// ingestSQL is every statement IngestEvents runs through ingestTx.
var ingestSQL = []string{createTouchedSQL, clearTouchedSQL, createConvertedSQL, clearConvertedSQL, fillConvertedSQL, lastRowIDSQL, insertEventSQL, getAggregatesSQL, putAggregatesSQL, exposedCustomersSQL,
	mergeRollupSQL, touchMergedSQL, multipleMergedSQL, multipleMergedDailySQL, clearTouchedMetricsSQL, clearTouchedDailySQL,
	insertTouchedMetricsSQL, insertTouchedDailySQL, addConversionsSQL, addDailySQL, fixDailyPrevSQL, touchRefundedSQL,
	clearTouchedWeeksSQL, insertTouchedWeeksSQL, addWeeksSQL, fixRepeatedSQL,
	clearTouchedOrdersSQL, insertTouchedOrdersSQL, multipleMergedOrdersSQL, addOrdersSQL}

// prepare prepares the statements of ingestSQL once.
func (p *ingestStmts) prepare(ctx context.Context, w *sqlx.DB) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stmts != nil {
		return nil
	}
	for _, q := range []string{createTouchedSQL, createConvertedSQL} {
		if _, err := w.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	stmts := make(map[string]*sqlx.Stmt, len(ingestSQL))
	for _, q := range ingestSQL {
		st, err := w.PreparexContext(ctx, q)
		if err != nil {
			for _, st := range stmts {
				_ = st.Close()
			}
			return err
		}
		stmts[q] = st
	}
	p.stmts = stmts
	return nil
}

// close closes the prepared statements.
func (p *ingestStmts) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, st := range p.stmts {
		_ = st.Close()
	}
	p.stmts = nil
}

// stmt returns the prepared statement q of ingestSQL, or nil.
func (p *ingestStmts) stmt(q string) *sqlx.Stmt {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stmts[q]
}

// ingestTx is a transaction of the writer that runs the statements of
// ingestSQL prepared (others as they are).
type ingestTx struct {
	*sqlx.Tx
	stmts *ingestStmts
}

// stmt returns q prepared, as a statement of the transaction, or nil when
// q is not one of ingestSQL.
func (t ingestTx) stmt(ctx context.Context, q string) *sqlx.Stmt {
	if t.stmts == nil {
		return nil
	}
	if st := t.stmts.stmt(q); st != nil {
		return t.Tx.StmtxContext(ctx, st)
	}
	return nil
}

// ExecContext runs q, prepared when it is one of ingestSQL.
func (t ingestTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, q, args...)
}

// QueryContext runs q, prepared when it is one of ingestSQL.
func (t ingestTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, q, args...)
}

// QueryRowContext runs q, prepared when it is one of ingestSQL.
func (t ingestTx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, q, args...)
}

// writeTx is what the ingest's steps need of their transaction: a plain
// transaction (RecomputeRollups, a change of an experiment) or an
// ingestTx.
type writeTx interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

var (
	_ writeTx = ingestTx{}
	_ writeTx = (*sqlx.Tx)(nil)
)
