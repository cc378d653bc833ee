package testkit

import (
	"reflect"
	"testing"

	"github.com/evomerge/evomerge/internal/model/all"
)

// TestTinyPoolsOfEachArchitecture writes a tiny pool of every architecture
// and reads each checkpoint back through the architecture list: the same
// architecture, the same heads and bit-identical parameters.
func TestTinyPoolsOfEachArchitecture(t *testing.T) {
	for name, arch := range TinyArchitectures() {
		t.Run(name, func(t *testing.T) {
			p := WritePool(t, t.TempDir(), arch, nil)
			if len(p.Experts) != len(TinyHeads) || len(p.Models) != len(TinyHeads) {
				t.Fatalf("%d experts, %d models", len(p.Experts), len(p.Models))
			}
			for i, path := range p.Experts {
				got, err := all.Load(path)
				if err != nil {
					t.Fatal(err)
				}
				if got.Config().Architecture() != name || !reflect.DeepEqual(got.Heads(), []string{TinyHeads[i].Name}) {
					t.Errorf("%s: architecture %s heads %v", path, got.Config().Architecture(), got.Heads())
				}
				for _, q := range p.Models[i].Params() {
					if g := got.Param(q.Name); g == nil || !reflect.DeepEqual(g.Data, q.Data) {
						t.Errorf("%s: parameter %s differs after a round trip", path, q.Name)
					}
				}
			}
			again := WritePool(t, t.TempDir(), arch, nil)
			if !reflect.DeepEqual(again.Models[0].Params()[0].Data, p.Models[0].Params()[0].Data) {
				t.Error("the same arguments wrote different weights")
			}
		})
	}
	for _, a := range all.Architectures() {
		if TinyArchitectures()[a.Name()] == nil {
			t.Errorf("architecture %s has no tiny configuration in TinyArchitectures", a.Name())
		}
	}
	if len(TinyArchitectures()) != len(all.Architectures()) {
		t.Errorf("%d tiny configurations for %d architectures", len(TinyArchitectures()), len(all.Architectures()))
	}
	d := RandomImages("x", 5, 3, [3]int{1, 2, 2}, 7)
	if err := d.Validate(); err != nil || d.Len() != 5 {
		t.Errorf("random images: %v, %d examples", err, d.Len())
	}
}
