// Package tooltest finds the external programs that tests use as
// independent oracles (openssl, zbarimg, ...), for the tests of several
// packages.
package tooltest

import (
	"os"
	"os/exec"
	"testing"
)

// Require returns the path of the external program name, installed by the
// Debian package of the same name. If it is missing the test is skipped,
// unless MASKSHARE_REQUIRE_TOOLS=1 (as in .ci/run), where it fails: CI
// must not pass by skipping the independent verifier.
func Require(t testing.TB, name string) string {
	t.Helper()
	return RequirePackage(t, name, name)
}

// RequirePackage is Require for a program that the Debian package pkg
// installs (zbarimg: zbar-tools).
func RequirePackage(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("MASKSHARE_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s not on PATH and MASKSHARE_REQUIRE_TOOLS=1", name)
		}
		t.Skipf("%s not on PATH; install it (apt-get install -y %s) or set MASKSHARE_REQUIRE_TOOLS=1 to make this a failure", name, pkg)
	}
	return path
}
