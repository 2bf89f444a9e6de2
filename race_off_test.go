//go:build !race

package bnrun_test

const raceEnabled = false
