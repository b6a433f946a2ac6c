// Package sqlstore holds the SQL code that the sqlite and postgres stores
// share: the row types of the experiments, flags, api_keys and audit_log
// tables with their conversions to and from the domain types, the CRUD of
// experiments, flags, API keys and the audit log (crud.go), consent, cap
// groups, spend and the steps of an erasure (customers.go), promotion
// costs and customer aggregates (costs.go, segments.go), and the
// sufficient-statistics, cohort, pre-period and rollup-check queries
// (stats.go, rollups.go, cohorts.go).
//
// What differs between the databases is behind the small Dialect
// interface: how timestamps are encoded (SQLite INTEGER unix microseconds,
// PostgreSQL timestamptz), how driver errors are mapped to domain error
// kinds (unique violation, not found, unavailable), how the ID of an
// inserted row is read back and how a list of values is passed. Queries
// whose SQL differs in a few places take those places as parameters
// (StatsDialect, CohortDialect, CostExpr). The shared SQL is written with ? placeholders;
// a store whose driver wants another bindvar passes Queryers that rebind
// (sqlx's Rebind), as the postgres store does.
//
// The stores keep what is their own SQL: event ingest and the rollups,
// the customer-aggregate upsert, exposure counts, the customer secret and
// the catalog queries of an erasure.
package sqlstore
