package maskshare

import (
	"testing"

	"github.com/maskshare/maskshare/internal/wire"
)

// A received abort's reason is a peer's text: what is not printable is
// replaced before anyone prints it (issue 9: nothing a peer says is printed
// raw).
func TestAbortReasonPrintable(t *testing.T) {
	names := []string{"a", "b"}
	for _, from := range []uint16{0, wire.Coordinator} {
		ae := abortError(&wire.Abort{From: from, Reason: "bad\x1b[2J\r\nrow\u202e"}, names)
		if ae.Reason != "bad?[2J??row?" {
			t.Fatalf("from %d: reason %q", from, ae.Reason)
		}
	}
}
