package frost

import "fmt"

// String methods for the types that hold secrets, so that printing or
// logging one (%v, %+v, %#v) shows what it is and never the secret.

func (k *DKGStaticKey) String() string {
	return fmt.Sprintf("frost.DKGStaticKey{%s, public %x}", k.suite, k.PublicKey())
}

// GoString is String.
func (k *DKGStaticKey) GoString() string { return k.String() }

func (p *DKGParticipant) String() string {
	return fmt.Sprintf("frost.DKGParticipant{%s, participant %d of %d, t %d}", p.st.suite, p.id, p.st.n, p.st.t)
}

// GoString is String.
func (p *DKGParticipant) GoString() string { return p.String() }

func (s *RefreshShare) String() string {
	return fmt.Sprintf("frost.RefreshShare{%s, epoch %d, %d→%d}", s.suite, s.epoch, s.from, s.to)
}

// GoString is String.
func (s *RefreshShare) GoString() string { return s.String() }

func (p *RepairPiece) String() string {
	return fmt.Sprintf("frost.RepairPiece{%s, target %d, %d→%d}", p.suite, p.target, p.from, p.to)
}

// GoString is String.
func (p *RepairPiece) GoString() string { return p.String() }

func (s *RepairSum) String() string {
	return fmt.Sprintf("frost.RepairSum{%s, target %d, from %d}", s.suite, s.target, s.from)
}

// GoString is String.
func (s *RepairSum) GoString() string { return s.String() }

func (k *KeyShare) String() string {
	return fmt.Sprintf("frost.KeyShare{%s, signer %d, t %d, verifying %x}", k.suite, k.id, k.threshold, k.VerifyingShare())
}

// GoString is String.
func (k *KeyShare) GoString() string { return k.String() }
