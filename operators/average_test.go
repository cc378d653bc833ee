package operators

import (
	"math"
	"testing"
)

// TestAverageValuesMergeToTheAverage checks what AverageValues promises:
// with the values it returns, the operator's merge of three experts is
// their plain average, whichever of its parameters are searched.
func TestAverageValuesMergeToTheAverage(t *testing.T) {
	base := randomModel(1, "base", 1)
	m1, m2, m3 := perturb(base, 2, "a", 0.3), perturb(base, 3, "b", 0.3), perturb(base, 4, "c", 0.3)
	src := mustSource(t, base, m1, m2, m3)
	tests := []struct {
		op       string
		fixed    map[string]any
		searched []string
	}{
		{"task_arithmetic", nil, []string{"weight"}},
		{"task_arithmetic", map[string]any{"lambda": 0.5}, []string{"weight"}},
		{"task_arithmetic", nil, []string{"lambda"}},
		{"task_arithmetic", nil, []string{"weight", "lambda"}},
		{"linear", nil, []string{"weight"}},
	}
	for _, tt := range tests {
		op, err := Builtin().Get(tt.op)
		if err != nil {
			t.Fatal(err)
		}
		searched := map[string]bool{}
		for _, s := range tt.searched {
			searched[s] = true
		}
		want, err := AverageValuesOf(op, 3, tt.fixed, searched)
		if err != nil {
			t.Fatal(err)
		}
		v := Values{Global: map[string]Value{}}
		for name, x := range tt.fixed {
			v.Global[name] = F(x.(float64))
		}
		for name, x := range want {
			v.Global[name] = F(x)
		}
		got := mergeAll(t, op, src, Settings{Default: v}, PlanOptions{})
		for i, bt := range base {
			avg := make([]float32, len(bt.Data))
			for j := range avg {
				avg[j] = (m1[i].Data[j] + m2[i].Data[j] + m3[i].Data[j]) / 3
			}
			for j, x := range got[bt.Name] {
				if math.Abs(float64(x-avg[j])) > 1e-5 {
					t.Fatalf("%s %v searched %v: %s[%d] = %g, the average is %g", tt.op, tt.fixed, tt.searched, bt.Name, j, x, avg[j])
				}
			}
		}
	}
	if _, err := AverageValuesOf(mustGet(t, "ties"), 3, nil, map[string]bool{"density": true}); err == nil {
		t.Error("ties expressed plain averaging")
	}
}

func mustGet(t *testing.T, name string) Operator {
	t.Helper()
	op, err := Builtin().Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return op
}
