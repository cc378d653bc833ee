// Package archtest enforces evomerge's dependency direction (the layering
// of README's Layout section) with an explicit allow-list per package.
//
// The check is a test: it parses the imports of every non-test Go file in the
// module and fails on any project or third-party import that the importing
// package's entry does not allow, and on any package that has no entry. Adding
// a package therefore means deciding, in allowlist.go, what it may depend on.
package archtest
