package configs

import (
	"bytes"

	"github.com/BurntSushi/toml"
)

// TableValues returns a settings table (a struct with toml tags, as a
// Table's Target) as the TOML values it encodes to, keyed by TOML name:
// what `evomerge algorithms` shows of a component's defaults.
func TableValues(v any) (map[string]any, error) {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(v); err != nil {
		return nil, err
	}
	out := map[string]any{}
	if _, err := toml.Decode(buf.String(), &out); err != nil {
		return nil, err
	}
	return out, nil
}
