package experiments

import (
	"context"
	"time"
)

// ExperimentFilter narrows ListExperiments. Zero fields match everything.
type ExperimentFilter struct {
	Environment string
	Status      Status
}

// ExperimentStore persists experiments. Keys are unique across
// environments.
type ExperimentStore interface {
	// CreateExperiment stores a new experiment with Revision 1; a
	// KindConflict error when the key exists.
	CreateExperiment(ctx context.Context, e *Experiment) error
	// GetExperiment returns the experiment or a KindNotFound error.
	GetExperiment(ctx context.Context, key string) (*Experiment, error)
	// ListExperiments returns matching experiments ordered by key.
	ListExperiments(ctx context.Context, f ExperimentFilter) ([]*Experiment, error)
	// UpdateExperiment replaces the stored experiment e.Key if its stored
	// Revision is still e.Revision, and then sets e.Revision to the new
	// revision (e.Revision+1). A KindConflict error (code
	// "revision_conflict") when another writer got there first, KindNotFound
	// when it does not exist.
	UpdateExperiment(ctx context.Context, e *Experiment) error
}

// FlagStore persists flags, with the same contract as ExperimentStore.
type FlagStore interface {
	CreateFlag(ctx context.Context, f *Flag) error
	GetFlag(ctx context.Context, key string) (*Flag, error)
	ListFlags(ctx context.Context, environment string) ([]*Flag, error)
	UpdateFlag(ctx context.Context, f *Flag) error
	// DeleteFlag removes a flag; KindNotFound if absent.
	DeleteFlag(ctx context.Context, key string) error
}

// KeyStore persists API keys (only their salted hashes).
type KeyStore interface {
	// CreateKey stores a key; KindConflict if the ID exists.
	CreateKey(ctx context.Context, k *APIKey) error
	// GetKey returns the key with id (revoked ones too) or KindNotFound.
	GetKey(ctx context.Context, id string) (*APIKey, error)
	// ListKeys returns every key, oldest first.
	ListKeys(ctx context.Context) ([]*APIKey, error)
	// RevokeKey marks the key revoked at the given time; KindNotFound if
	// absent. Revoking twice keeps the first time.
	RevokeKey(ctx context.Context, id string, at time.Time) error
	// TouchKey records that the key was used at the given time.
	TouchKey(ctx context.Context, id string, at time.Time) error
	// CountKeys returns the number of keys, revoked ones included.
	CountKeys(ctx context.Context) (int, error)
}

// EventStore stores events and keeps the per-unit rollups that analysis
// reads.
type EventStore interface {
	// IngestEvents stores a batch of valid events atomically: when it
	// returns nil, every event is durably stored. The result has one entry
	// per event, in order: true when the event's ID was already stored
	// (a duplicate: nothing changed), false when it was stored now. An
	// event ID repeated inside the batch counts once; later copies are
	// duplicates. The rollups follow the attribution rules: a conversion
	// counts for an experiment only at or after the unit's first exposure
	// to it and no later than the experiment's attribution window after
	// that; exposures to a second variant flag the unit.
	IngestEvents(ctx context.Context, events []Event) ([]bool, error)
	// SufficientStats reads the rollups of one experiment.
	SufficientStats(ctx context.Context, q StatsQuery) (*SufficientStats, error)
}

// AuditEntry is one record of the append-only audit log. Before and After
// are JSON documents (empty when not applicable).
type AuditEntry struct {
	ID       int64
	At       time.Time
	KeyID    string // who; "" for the system
	Action   string // such as "experiment.create"
	Resource string // such as "experiment:spring-sale"
	// Environment is the resource's environment; "" for what belongs to
	// none (customers, cap groups, unbound keys).
	Environment string
	Before      []byte
	After       []byte
}

// AuditStore is the append-only audit log.
type AuditStore interface {
	AppendAudit(ctx context.Context, e *AuditEntry) error
	// ListAudit returns the entries f selects, newest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]*AuditEntry, error)
}

// AuditFilter selects audit entries: at most Limit (100 when <= 0), with
// IDs below BeforeID when BeforeID > 0 (for paging), and only those of
// Environment when it is not "".
type AuditFilter struct {
	Limit       int
	BeforeID    int64
	Environment string
}

// Store is everything a promolift store provides.
type Store interface {
	ExperimentStore
	FlagStore
	KeyStore
	EventStore
	AuditStore
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	Close() error
}
