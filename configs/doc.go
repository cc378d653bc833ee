// Package configs holds the TOML schema of experiment configurations as plain
// structs, their defaults, strict decoding and validation, and the commented
// example configurations (including the embedded quickstart).
//
// # Contract
//
//   - Decoding is strict: unknown keys, keys differing only in case, wrong
//     types and out-of-range values are errors that name the key (and the line
//     where the parser gives one), and all problems are reported at once.
//   - The package is plain data: it does not import operators or search.
//     Checking a configuration against operator parameter specifications is
//     done by internal/run, which composes the components. The components
//     an experiment names (algorithms, evaluator kinds, objectives'
//     metrics) are known through a Catalog (internal/registry implements
//     it); configs names none of them itself.
//   - A zero value in an optional field means "use the documented default".
package configs
