//go:build !race

package ops

// raceEnabled: see race_on_test.go.
const raceEnabled = false
