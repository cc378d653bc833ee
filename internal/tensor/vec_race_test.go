//go:build race

package tensor

// vecRaceEnabled: sync.Pool drops items under the race detector, so allocation
// counts are not meaningful there.
const vecRaceEnabled = true
