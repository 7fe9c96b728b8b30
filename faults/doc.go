// Package faults is pinrec's fault suite. Its tests (build tag faults: make test-faults, and
// make bench-faults for the long cases) run the pinrec binary of examples/cli as a user would,
// on real file systems, and break things under it: a disk that fills up (a small tmpfs mounted
// by the test, or a file-size limit where mounting is impossible), kill -9 at random points of
// index, build-ann, engage -events and serve, hostile files where users keep data, and syncs
// that would wipe an index. After each fault they check what pinrec promises (docs/reliability.md):
// a clear error naming the file, nothing acknowledged lost, every file whole and loadable, and
// a second run that ends where an undisturbed run ends.
//
// The suite prints a table of cases with their trials and outcomes and the totals
// faults_cases=, faults_trials=, faults_acked_lost=, faults_corrupt_after= and
// faults_unclear_errors=. The package has no code outside its tests.
package faults
