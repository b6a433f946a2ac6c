// Package banditrun is the background updater of bandit experiments
// (docs/bandit.md): every Interval it asks the Source to bring the weight
// history of every running bandit experiment up to the current period
// (experiments.Service.UpdateBandits), which computes a period's weights
// once its boundary passed.
//
// The rules:
//
//   - Single flight: at most one pass runs at a time in a process; a tick
//     that finds a pass still running is skipped.
//   - Replicas may all run an updater: a period's row is written once
//     (unique per experiment and period), and every replica then applies
//     that row's weights, so they agree whichever computed it.
//   - A failed pass is logged and the next tick tries again.
//   - Run stops when its context is cancelled (server shutdown), after the
//     pass in flight, which is cancelled too.
package banditrun
