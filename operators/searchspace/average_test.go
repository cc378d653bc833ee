package searchspace

import (
	"reflect"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/population"
)

func TestAveragePoint(t *testing.T) {
	dims := func(names ...string) *population.Space {
		var ds []population.Dim
		for _, n := range names {
			ds = append(ds, population.Dim{Name: n, Kind: population.KindFloat, Lower: 0, Upper: 2, Default: 1})
		}
		s, err := population.NewSpace(ds)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name   string
		space  *population.Space
		op     string
		fixed  map[string]any
		want   []float64
		errHas string
	}{
		{"weights per model and group", dims("layers.0/weight[a]", "layers.0/weight[b]", "layers.1/weight[a]", "layers.1/weight[b]"), "task_arithmetic", nil, []float64{0.5, 0.5, 0.5, 0.5}, ""},
		{"weights with a fixed lambda", dims("weight[a]", "weight[b]"), "task_arithmetic", map[string]any{"lambda": 0.5}, []float64{1, 1}, ""},
		{"weights and lambda", dims("lambda", "weight[a]", "weight[b]"), "task_arithmetic", nil, []float64{1, 0.5, 0.5}, ""},
		{"lambda only", dims("layers.0/lambda", "layers.1/lambda"), "task_arithmetic", nil, []float64{0.5, 0.5}, ""},
		{"linear", dims("weight[a]", "weight[b]"), "linear", nil, []float64{0.5, 0.5}, ""},
		{"normalized task arithmetic", dims("weight[a]", "weight[b]"), "task_arithmetic", map[string]any{"normalize": true}, nil, "normalize = false"},
		{"a zero fixed lambda", dims("weight[a]", "weight[b]"), "task_arithmetic", map[string]any{"lambda": 0.0}, nil, "non-zero"},
		{"out of bounds", dims("weight[a]", "weight[b]"), "task_arithmetic", map[string]any{"lambda": 0.1}, nil, "outside its bounds"},
		{"nothing searched that averages", dims("other"), "linear", nil, nil, "weight to be searched"},
		{"other operator", dims("density[a]"), "ties", nil, nil, "not ties"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, err := operators.Builtin().Get(tt.op)
			if err != nil {
				t.Fatal(err)
			}
			got, err := AveragePoint(tt.space, op, tt.fixed, 2)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("error %v, want one containing %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
