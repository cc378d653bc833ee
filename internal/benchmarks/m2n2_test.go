package benchmarks

import (
	"context"
	"slices"
	"testing"

	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/population"
)

func TestM2N2SpecParameterCount(t *testing.T) {
	m, err := M2N2Config().New(1)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, p := range m.Params() {
		total += len(p.Data)
	}
	if total != 19210 || M2N2Parameters != 19210 {
		t.Fatalf("M2N2 model has %d parameters, want 19210", total)
	}
	if m.InputSize() != 64 || m.Classes(M2N2Head) != 10 {
		t.Fatalf("M2N2 model input %d classes %d, want 64 and 10", m.InputSize(), m.Classes(M2N2Head))
	}
}

func TestPooledMNIST(t *testing.T) {
	m := loadRealMNIST(t)
	d, err := PooledMNIST(m, data.Test)
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 10000 || d.Shape() != [3]int{1, 8, 8} {
		t.Fatalf("pooled test set: %d examples of %v", d.Len(), d.Shape())
	}
	// Each pooled pixel is the mean of its 4x4 block of the padded image.
	raw := m.SplitN(data.Test, 1)
	var want float32
	for r := 2; r < 6; r++ { // block (1,1) covers padded rows/cols 4..7 = image rows/cols 2..5
		for c := 2; c < 6; c++ {
			want += raw.X[r*28+c]
		}
	}
	if got := d.Image(0)[1*8+1]; got != want/16 {
		t.Fatalf("pooled pixel (1,1) = %v, want %v", got, want/16)
	}
}

func TestPrepareM2N2Smoke(t *testing.T) {
	ctx := context.Background()
	cache := t.TempDir()
	b, err := Prepare(ctx, M2N2SpecialistsName, smokeOptions(t, M2N2SpecialistsName, cache))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Members) != 2 || b.Members[0].Name != "specialist-0-4" || b.Members[1].Name != "specialist-5-9" {
		t.Fatalf("members %+v", b.Members)
	}
	if b.Members[0].Seed != b.Members[1].Seed {
		t.Fatal("specialists must share their initialisation seed")
	}
	if b.Members[0].Steps != 2 {
		t.Fatalf("smoke specialist took %d steps, want 2 full-batch steps", b.Members[0].Steps)
	}
	// Each specialist is better on its own digits than on the others.
	test, err := b.Data(M2N2Head, data.Test)
	if err != nil {
		t.Fatal(err)
	}
	for i, half := range [][]int32{{0, 1, 2, 3, 4}, {5, 6, 7, 8, 9}} {
		m, err := b.LoadMember(b.Members[i].Name)
		if err != nil {
			t.Fatal(err)
		}
		bits := population.NewBitset(test.Len())
		if _, err := tasks.ScoreDataset(ctx, m, test, M2N2Head, tasks.ScoreOptions{Batch: 100, Correct: bits.Words}); err != nil {
			t.Fatal(err)
		}
		var own, ownN, other, otherN int
		for j := range test.Len() {
			ok := bits.Get(j)
			isOwn := false
			for _, d := range half {
				isOwn = isOwn || test.Y[j] == d
			}
			if isOwn {
				ownN++
				if ok {
					own++
				}
			} else {
				otherN++
				if ok {
					other++
				}
			}
		}
		if float64(own)/float64(ownN) <= float64(other)/float64(otherN) {
			t.Errorf("%s: accuracy on own digits %d/%d not above other digits %d/%d", b.Members[i].Name, own, ownN, other, otherN)
		}
	}
	sub := b.Manifest.DigitSubsets
	if len(sub) != 2 || sub["specialist-0-4"]["0-4"] <= sub["specialist-0-4"]["5-9"] || sub["specialist-5-9"]["5-9"] <= sub["specialist-5-9"]["0-4"] {
		t.Errorf("digit subset accuracies %v: each specialist should do best on its own digits", sub)
	}
	if b.Manifest.Interference != nil {
		t.Fatal("specialists have no per-task experts: no normalized interference figure expected")
	}

	scratch, err := Prepare(ctx, M2N2ScratchName, smokeOptions(t, M2N2ScratchName, cache))
	if err != nil {
		t.Fatal(err)
	}
	if len(scratch.Members) != 0 || scratch.FitnessSplit != data.Train {
		t.Fatalf("scratch: members %d fitness %s", len(scratch.Members), scratch.FitnessSplit)
	}
	fresh, err := M2N2Config().New(3)
	if err != nil {
		t.Fatal(err)
	}
	s, err := scratch.Evaluate(ctx, fresh, data.Test)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Tasks) != 1 || s.Tasks[0].Examples != 100 || s.MeanNormalized != nil || s.Tasks[0].HeadSource != HeadFromModel {
		t.Fatalf("scratch scores %+v", s)
	}
	train, err := scratch.Data(M2N2Head, data.Train)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 55000 {
		t.Fatalf("from-scratch fitness data has %d examples, want the 55000 of the train split", train.Len())
	}
}

// TestDeriveChunks checks that deriving a range in chunks equals deriving it
// whole.
func TestDeriveChunks(t *testing.T) {
	m := loadRealMNIST(t)
	b, err := Prepare(context.Background(), M2N2ScratchName, smokeOptions(t, M2N2ScratchName, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := 100, 100+deriveChunk+37
	got, err := b.DataRange(M2N2Head, data.Test, lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := m.SplitRange(data.Test, lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	want, err := data.Pool8x8(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != hi-lo || !slices.Equal(got.X, want.X) || !slices.Equal(got.Y, want.Y) {
		t.Fatalf("chunked derivation differs: %d examples", got.Len())
	}
	if _, err := b.DataRange(M2N2Head, data.Validation, 4999, 5000); err != nil {
		t.Fatalf("last example: %v", err)
	}
	if _, err := b.DataRange(M2N2Head, data.Validation, 5000, 0); err == nil {
		t.Fatal("empty range accepted")
	}
}
