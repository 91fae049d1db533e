// Command testsummary reads `go test -json` on standard input, prints what
// a reader of `go test` expects (each package's result line, the output of
// every failed test and of packages that failed to build), and ends with
// one closing line, `N passed, N failed, N skipped`, counting tests and
// subtests. It exits 1 when anything failed. scripts/test pipes the suite
// through it, so CI and a person see the same summary.
package main
