//go:build !race

package tensor

const vecRaceEnabled = false
