// Package tooltest finds the external programs that tests use as
// independent oracles (openssl, zbarimg, ...), for the tests of several
// packages.
package tooltest

import (
	"os"
	"os/exec"
	"strings"
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

// ReadQR reads the QR code in the image file at path with zbarimg (see
// RequirePackage) and returns its text without zbarimg's closing newline.
// It reads QR codes only: with every symbology on, zbarimg may also find a
// linear barcode among a QR code's modules and print it on a line of its
// own (a CI run read "…\n273632\n" after a valid code).
func ReadQR(t testing.TB, path string) string {
	t.Helper()
	zbar := RequirePackage(t, "zbarimg", "zbar-tools")
	out, err := exec.Command(zbar, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", path).Output()
	if err != nil {
		t.Fatalf("zbarimg %s: %v", path, err)
	}
	return strings.TrimSuffix(string(out), "\n")
}
