//go:build !race

package ann

const raceScale = 1
