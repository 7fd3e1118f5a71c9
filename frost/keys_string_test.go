package frost

import (
	"fmt"
	"strings"
	"testing"
)

// TestKeyShareNotPrinted: printing a key share with any verb shows
// neither the secret scalar's limbs (what fmt printed of the struct) nor
// its encoding.
func TestKeyShareNotPrinted(t *testing.T) {
	_, ks, err := Deal(Ed25519, nil, 2, []uint16{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	k := ks[0]
	limbs := fmt.Sprint(k.secret)
	limbs = strings.Trim(limbs, "{[]}")
	enc := fmt.Sprintf("%x", k.secret.Bytes())
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, k)
		if strings.Contains(out, limbs) || strings.Contains(out, enc) {
			t.Fatalf("%s shows the secret share: %q", verb, out)
		}
	}
}
