package registry

import (
	"fmt"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/search"
)

// AlgorithmInfo describes an algorithm for `evomerge algorithms`: its
// traits and the values its table takes when left empty (for a run with an
// evaluation budget; settings computed from the search space stay absent).
type AlgorithmInfo struct {
	Name     string
	Summary  string
	Traits   search.Traits
	Defaults map[string]any
}

// Describe describes every algorithm.
func Describe() ([]AlgorithmInfo, error) {
	var out []AlgorithmInfo
	for _, a := range algorithms {
		s := a.NewSettings()
		s.Defaults(search.Budget{MaxEvaluations: 100})
		values, err := configs.TableValues(s)
		if err != nil {
			return nil, fmt.Errorf("registry: %s's settings: %w", a.Name, err)
		}
		out = append(out, AlgorithmInfo{Name: a.Name, Summary: a.Summary, Traits: s.Traits(), Defaults: values})
	}
	return out, nil
}
