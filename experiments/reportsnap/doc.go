// Package reportsnap answers report reads from per-experiment snapshots
// computed in the background, so that a read costs a map lookup instead of
// a report computation, and so that readers cannot pile computations onto
// the database that assignment and ingest share.
//
// For each (experiment, multiple-exposure mode, experiment revision) the
// Snapshots keep the last computed report. The rules:
//
//   - Single flight: at most one computation per experiment and mode runs
//     at a time; every reader that needs it waits for that one.
//   - A first read (no snapshot yet, or the experiment's definition changed
//     since: a new revision) waits for a computation instead of erroring.
//   - Later reads answer at once from the snapshot. When the snapshot was
//     last considered at least MinInterval ago, the read also starts a
//     background refresh, which first reads the source's cheap events
//     marker (experiments.EventsMarker) and recomputes only when the marker
//     changed (new events were stored) or the snapshot is older than
//     MaxAge. So a snapshot is recomputed at most once per MinInterval, and
//     a report read is at most about MinInterval + one computation behind
//     the events stored on this server, and at most MaxAge + one
//     computation behind everything else (events that reached another
//     replica, erasures, the passing of time).
//   - At most Concurrency computations run at once across experiments
//     (default 1), so reports take a bounded share of the server and its
//     database whatever the number of experiments being read.
//   - Snapshots are bounded: an LRU of Size entries.
//   - A failed refresh keeps the old snapshot (and is logged); a failed
//     first computation is answered to its waiters and not cached.
//
// A report's AsOf (experiments.Report.GeneratedAt) is the instant its
// computation started: the figures count what the store held then.
//
// Each server process (replica) keeps its own snapshots and computes them
// itself; replicas do not share them.
package reportsnap
