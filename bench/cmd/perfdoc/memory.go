package main

// memoryNote is the result of the manual steady-load memory run (see
// docs/scaling.md); it is not part of make bench because it takes minutes.
const memoryNote = `Not measured yet: run ` + "`promolift loadgen`" + ` for 5 minutes against ` + "`promolift serve`" + ` and
compare the heap in use at 1 and at 5 minutes.`
