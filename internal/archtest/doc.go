// Package archtest holds no code, only TestImportBoundaries: it lists the
// module's packages with `go list -deps` and checks their imports against
// the allowed dependency directions (STYLE §c.1), failing with the
// offending import chain. Rules for packages that do not exist yet are
// skipped, so a rule can be written before its package.
package archtest
