//go:build race

package ann

// raceScale shrinks the data of the recall tests under the race detector (about ten times
// slower), which checks the locking, not the recall.
const raceScale = 3
