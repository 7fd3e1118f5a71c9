package idpay

import (
	"fmt"
	"strings"
	"testing"
)

// TestKeysNotPrinted: printing an issuer or a wallet with any verb shows
// neither its private key's bytes nor their hex.
func TestKeysNotPrinted(t *testing.T) {
	f := newFixture(t, false)
	for _, c := range []struct {
		v   any
		key []byte
	}{{f.shop, f.shop.key}, {f.alice, f.aliceKey}} {
		dec := strings.Trim(fmt.Sprint(c.key), "[]")
		hex := fmt.Sprintf("%x", c.key[:32])
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			out := fmt.Sprintf(verb, c.v)
			if strings.Contains(out, dec) || strings.Contains(out, hex) {
				t.Fatalf("%s of %T shows the private key: %q", verb, c.v, out)
			}
		}
	}
}
