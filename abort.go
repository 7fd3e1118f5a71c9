package maskshare

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"

	"github.com/maskshare/maskshare/internal/wire"
)

// Signed aborts (docs/PROTOCOL.md, "Aborts"). A party signs its Abort with
// its identity key, binding the session, its index, the code and the
// reason, so that the coordinator relaying it can neither forge an abort
// "from" a party, nor alter one, nor replay one from another session.

const abortLabel = "maskshare abort v2"

// abortMessage is what a party's identity key signs for an Abort: label ‖
// sid ‖ be16(from) ‖ u8(code) ‖ string16(reason), the reason as the message
// carries it (wire.FitReason).
func abortMessage(sid [32]byte, m *wire.Abort) []byte {
	reason := wire.FitReason(m.Reason)
	b := make([]byte, 0, len(abortLabel)+32+2+1+2+len(reason))
	b = append(b, abortLabel...)
	b = append(b, sid[:]...)
	b = binary.BigEndian.AppendUint16(b, m.From)
	b = append(b, m.Code)
	b = binary.BigEndian.AppendUint16(b, uint16(len(reason)))
	return append(b, reason...)
}

// signAbort returns the signature of m by id, or nil without an identity.
func signAbort(id ed25519.PrivateKey, sid [32]byte, m *wire.Abort) []byte {
	if len(id) != ed25519.PrivateKeySize {
		return nil
	}
	return ed25519.Sign(id, abortMessage(sid, m))
}

func verifyAbort(pub ed25519.PublicKey, sid [32]byte, m *wire.Abort) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, abortMessage(sid, m), m.Sig)
}

// attributeAbort returns the error for an Abort the coordinator relayed in
// session sid (known is false before the party has the session id). An
// abort naming a party names it only if that party signed it, or if there
// is nothing to verify (no identities and no key pinned for it); otherwise
// it is the coordinator's, and evidence that the coordinator cheats.
func attributeAbort(m *wire.Abort, sid [32]byte, known bool, params *Params, cfg *Config) *AbortError {
	ae := abortError(m, params.Parties)
	if int(m.From) >= len(params.Parties) {
		return ae // the coordinator's own abort
	}
	name := params.Parties[m.From]
	pub, check := cfg.pinnedKey(name)
	if !check || (known && verifyAbort(pub, sid, m)) {
		return ae
	}
	ae.Party = "coordinator"
	ae.Reason = fmt.Sprintf("an abort claimed to come from party %s but is not signed by it (claimed reason: %s)", name, printable(m.Reason))
	ae.cheat = &CheatingError{
		Check: "abort attribution",
		Party: "coordinator",
		Err:   fmt.Errorf("it relayed an abort as party %s's that party %s did not sign for this session", name, name),
	}
	return ae
}
