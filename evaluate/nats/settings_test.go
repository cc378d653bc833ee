package nats

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/evomerge/evomerge/evaluate"
)

func TestSettingsDefaultsAndChecks(t *testing.T) {
	s := withKinds(&Settings{})
	s.Defaults()
	if s.Timeout != DefaultMaxDuration {
		t.Errorf("timeout default %v, want %v", s.Timeout, DefaultMaxDuration)
	}
	s = withKinds(&Settings{Timeout: -time.Second, Examples: -2})
	var got []string
	s.Validate(func(key, msg string) { got = append(got, key+": "+msg) })
	if len(got) != 2 || !strings.HasPrefix(got[0], "timeout: -1s") || !strings.HasPrefix(got[1], "examples: -2") {
		t.Errorf("problems %q, want the timeout's and the examples' with keys relative to [evaluator]", got)
	}
	var _ evaluate.ExampleLimiter = s
	if _, err := Build(context.Background(), withKinds(&Settings{}), evaluate.Env{}); err == nil || !strings.Contains(err.Error(), "benchmark") {
		t.Errorf("no benchmark: %v, want an error naming it", err)
	}
}
