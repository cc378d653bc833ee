package data

import "testing"

func BenchmarkLoadMNIST(b *testing.B) {
	dir, err := LocateMNIST("")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := LoadMNIST(dir); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTransforms(b *testing.B) {
	m, err := LoadMNIST("")
	if err != nil {
		b.Fatal(err)
	}
	test := m.Split(Test)
	perm := PixelPermutation(test.Features(), 1, "bench")
	b.Run("split-test", func(b *testing.B) {
		for b.Loop() {
			m.Split(Test)
		}
	})
	b.Run("rotate90", func(b *testing.B) {
		for b.Loop() {
			Rotate90(test)
		}
	})
	b.Run("permute", func(b *testing.B) {
		for b.Loop() {
			if _, err := PermutePixels(test, perm); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pool8x8", func(b *testing.B) {
		for b.Loop() {
			if _, err := Pool8x8(test); err != nil {
				b.Fatal(err)
			}
		}
	})
}
