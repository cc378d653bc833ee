package checkpoint_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/evomerge/evomerge/internal/checkpoint"
)

func Example() {
	dir, err := os.MkdirTemp("", "checkpoint-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")

	tensors := []checkpoint.Tensor{
		{Name: "layers.10.weight", Shape: []int{1, 2}, Data: []float32{3, 4}},
		{Name: "layers.2.weight", Shape: []int{1, 2}, Data: []float32{1, 2}},
	}
	if err := checkpoint.Write(path, tensors, map[string]string{"format": "pt"}, checkpoint.WriteOptions{DType: checkpoint.BF16}); err != nil {
		log.Fatal(err)
	}

	r, err := checkpoint.Open(path) // parses the header only
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for _, name := range r.Names() {
		info, _ := r.Info(name)
		dst := make([]float32, info.NumElements())
		if err := r.ReadInto(name, dst); err != nil {
			log.Fatal(err)
		}
		fmt.Println(name, info.DType, info.Shape, dst, checkpoint.LayerGroup(name))
	}
	fmt.Println(r.Metadata()["format"])
	// Output:
	// layers.2.weight BF16 [1 2] [1 2] layers.2
	// layers.10.weight BF16 [1 2] [3 4] layers.10
	// pt
}

func ExampleSortNames() {
	names := []string{"model.layers.10.mlp.weight", "lm_head.weight", "model.layers.9.mlp.weight"}
	checkpoint.SortNames(names)
	fmt.Println(names)
	// Output: [lm_head.weight model.layers.9.mlp.weight model.layers.10.mlp.weight]
}
