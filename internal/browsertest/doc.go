// Package browsertest drives a real Chromium from tests: one headless
// browser per test binary (started on first use, stopped by Main), a tab per
// page with guards that record any script a payload manages to run (a
// binding every hostile payload calls, JavaScript dialogs, navigations away
// and requests to other origins), axe-core's accessibility check, and
// screenshots at desktop and phone width.
//
// Chromium comes from the system (Debian's chromium package, or
// MXARCHIVE_CHROMIUM); axe-core from npm into ~/.cache/mxarchive. When
// either is missing the tests skip, or fail when CI=true, so CI cannot
// silently skip them.
//
// Tests only: nothing outside _test.go files imports it.
package browsertest
