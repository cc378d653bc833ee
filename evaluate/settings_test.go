package evaluate

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/evomerge/evomerge/fitness"
)

// reported collects "key: msg" of a settings check.
func reported(validate func(report func(key, msg string))) []string {
	var got []string
	validate(func(key, msg string) { got = append(got, key+": "+msg) })
	return got
}

func TestKindSettingsDefaultsAndChecks(t *testing.T) {
	c := &CommandSettings{Command: []string{"score"}}
	c.Defaults()
	if c.Timeout != DefaultCommandTimeout {
		t.Errorf("command timeout default %v, want %v", c.Timeout, DefaultCommandTimeout)
	}
	c = &CommandSettings{Timeout: time.Minute}
	c.Defaults()
	if c.Timeout != time.Minute {
		t.Errorf("a given timeout became %v", c.Timeout)
	}
	tests := []struct {
		name string
		s    Settings
		want []string // key prefixes, relative to the table
	}{
		{"native fine", &NativeSettings{Examples: 10}, nil},
		{"native negative examples", &NativeSettings{Examples: -1}, []string{"examples: -1: give a positive count"}},
		{"command without argv", &CommandSettings{Timeout: -time.Second}, []string{"command: missing", "timeout: -1s: give a positive duration"}},
		{"command with a blank program", &CommandSettings{Command: []string{" "}}, []string{"command: missing"}},
		{"command fine", &CommandSettings{Command: []string{"score", "{model}"}}, nil},
	}
	for _, tt := range tests {
		got := reported(tt.s.Validate)
		if len(got) != len(tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
			continue
		}
		for i, w := range tt.want {
			if !strings.HasPrefix(got[i], w) {
				t.Errorf("%s: %q, want %q", tt.name, got[i], w)
			}
		}
	}
	if d := (&CommandSettings{Command: []string{"python3", "score.py", "{model}"}}).Describe(); d != "command: python3 score.py {model}" {
		t.Errorf("described as %q", d)
	}
	var _ ExampleLimiter = &NativeSettings{}
	var _ Describer = &CommandSettings{}
}

func TestKindFactories(t *testing.T) {
	s := newSynthetic(t, 5)
	env := Env{
		Merge:      linearMerge(t, s.pool(t), true),
		Objectives: []fitness.Objective{{Name: "acc", Direction: fitness.Maximize}},
		Workers:    2,
	}
	b, err := BuildCommand(context.Background(), &CommandSettings{Command: []string{"score", "{model}"}, Timeout: time.Minute}, env)
	if err != nil {
		t.Fatal(err)
	}
	cmd, ok := b.Evaluator.(*Command)
	if !ok || b.Native != nil || b.Tasks != nil || b.Sessions != nil {
		t.Fatalf("built %+v, want a command evaluator alone", b)
	}
	if want := []string{"score", "{model}"}; !reflect.DeepEqual(cmd.cfg.Argv, want) || cmd.cfg.Timeout != time.Minute || cmd.cfg.Workers != 2 {
		t.Errorf("command config %+v", cmd.cfg)
	}
	if _, err := BuildNative(context.Background(), &NativeSettings{}, env); err == nil || !strings.Contains(err.Error(), "benchmark") {
		t.Errorf("native without a benchmark: %v, want an error naming it", err)
	}
}
