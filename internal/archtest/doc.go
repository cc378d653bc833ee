// Package archtest enforces evomerge's dependency direction (the layering
// of README's Layout section) with an explicit allow-list per package.
//
// The check is a test. It asks the go tool for every package of the module
// with its direct imports and its transitive dependencies (the closure
// `go list -deps` prints) and fails on:
//
//   - a direct import, of the project or a third party, that the importing
//     package's entry does not allow, or a package without an entry;
//   - a project package reached through other packages that the entry does
//     not allow: an entry lists everything the package may depend on, so no
//     package reaches through another what it may not import itself (search
//     never reaches operators, tensors or models through population);
//   - a dependency, direct or not, between siblings of a component family
//     (search/<algo>, internal/model/<arch>): what they share belongs in the
//     family's parent. Only the composition roots may know several members.
//
// Adding a package therefore means deciding, in allowlist.go, what it may
// depend on.
package archtest
