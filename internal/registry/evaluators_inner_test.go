package registry_test

import (
	"strings"
	"testing"

	. "github.com/evomerge/evomerge/configs"
	natsev "github.com/evomerge/evomerge/evaluate/nats"
	"github.com/evomerge/evomerge/internal/registry"
)

// [evaluator.inner] names the kind NATS workers score with: it decodes into
// the nats settings, the resolved configuration states it with the kind's
// defaults and reads back to it, a command kind needs no benchmark, and its
// problems are reported with file, key and line.
func TestNATSInnerKind(t *testing.T) {
	noBenchmark := strings.Replace(minimalExperiment, "benchmark = \"mnist-tasks\"", "base = \"b\"\n[[models.experts]]\nname = \"a\"\npath = \"a\"\ntask = \"a\"", 1)
	src := noBenchmark + "\n[evaluator]\nkind = \"nats\"\nserver = \"nats://n1:4222\"\n\n[evaluator.inner]\nkind = \"command\"\ncommand = [\"score\", \"{model}\"]\n"
	e, err := DecodeExperiment("x.toml", []byte(src), catalog)
	if err != nil {
		t.Fatal(err)
	}
	s := evaluatorOf(t, e).(*natsev.Settings)
	if s.InnerKind() != "command" || s.Inner["timeout"] != "10m0s" {
		t.Errorf("inner table %v: want the command kind with its default timeout", s.Inner)
	}
	enc, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(enc), "[evaluator.inner]") {
		t.Errorf("resolved config lacks [evaluator.inner]:\n%s", enc)
	}
	back, err := DecodeResolved("config.toml", enc, catalog)
	if err != nil {
		t.Fatalf("%v\n%s", err, enc)
	}
	if got := evaluatorOf(t, back).(*natsev.Settings); got.InnerKind() != "command" || got.Inner["timeout"] != "10m0s" || len(got.Inner["command"].([]any)) != 2 {
		t.Errorf("read back as %v", got.Inner)
	}

	bad := withEvaluator("kind = \"nats\"\n\n[evaluator.inner]\nkind = \"command\"\ncomand = [\"x\"]\n")
	_, err = DecodeExperiment("bad.toml", []byte(bad), catalog)
	if err == nil || !strings.Contains(err.Error(), "evaluator.inner.comand") || !strings.Contains(err.Error(), "unknown key") {
		t.Errorf("misspelt inner key: %v", err)
	}
	native := noBenchmark + "\n[evaluator]\nkind = \"nats\"\n"
	if _, err := DecodeExperiment("n.toml", []byte(native), catalog); err == nil || !strings.Contains(err.Error(), "NATS workers score natively on a built-in benchmark's task data") {
		t.Errorf("native workers without a benchmark: %v", err)
	}
	if kinds := registry.WorkerKinds(); len(kinds) != 2 || kinds[0].Name != "native" || kinds[1].Name != "command" {
		t.Errorf("worker kinds %v", kinds)
	}
}
