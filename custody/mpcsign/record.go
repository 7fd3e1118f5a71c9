package mpcsign

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/frost"
	"github.com/maskshare/maskshare/internal/binfmt"
)

// TOTP parameters an account may have.
const (
	// DefaultPeriod is RFC 6238's time step, the one authenticator apps
	// support.
	DefaultPeriod = 30
	// MinPeriod and MaxPeriod bound an account's time step, in seconds.
	MinPeriod, MaxPeriod = 5, 300
	// DefaultDigits is the code length authenticator apps show.
	DefaultDigits = 6
)

const recordVersion = 1

// Account is an account's public record, which the holder and every pool
// node of the account keep: who the owner's device is, how its TOTP codes
// are made, and the FROST public key package of the current epoch (group
// key, threshold, every share's verifying share). It holds no secret.
type Account struct {
	ID     string
	Device ed25519.PublicKey // the owner's device key
	Digits int               // TOTP code length, 6 or 8
	Period int               // TOTP time step in seconds
	Epoch  uint32            // the shares' epoch; refresh adds one
	Key    *frost.PublicKeyPackage
}

// GroupKey returns the account's Ed25519 public key.
func (a *Account) GroupKey() ed25519.PublicKey { return ed25519.PublicKey(a.Key.GroupKey()) }

// Threshold returns t.
func (a *Account) Threshold() int { return a.Key.Threshold() }

// Shares returns the share identifiers.
func (a *Account) Shares() []uint16 { return a.Key.Identifiers() }

// Marshal encodes the record:
//
//	0x01 || u8 len || id || device key (32) || u8 digits || u16 period ||
//	u32 epoch || u32 len || frost PublicKeyPackage
func (a *Account) Marshal() []byte {
	pkg := a.Key.Marshal()
	b := []byte{recordVersion}
	b = binfmt.AppendString8(b, a.ID)
	b = append(b, a.Device...)
	b = append(b, byte(a.Digits))
	b = binary.BigEndian.AppendUint16(b, uint16(a.Period))
	b = binary.BigEndian.AppendUint32(b, a.Epoch)
	return binfmt.AppendBytes32(b, pkg)
}

func (a *Account) check() error {
	switch {
	case !custody.ValidID(a.ID):
		return fmt.Errorf("%w: account id", ErrBadMessage)
	case len(a.Device) != ed25519.PublicKeySize:
		return fmt.Errorf("%w: device key", ErrBadMessage)
	case a.Digits != 6 && a.Digits != 8:
		return fmt.Errorf("%w: %d TOTP digits", ErrBadMessage, a.Digits)
	case a.Period < MinPeriod || a.Period > MaxPeriod:
		return fmt.Errorf("%w: TOTP period %d s", ErrBadMessage, a.Period)
	case a.Key == nil || a.Key.Suite() != frost.Ed25519:
		return fmt.Errorf("%w: not an Ed25519 FROST key", ErrBadMessage)
	case len(a.Key.Identifiers()) > MaxSigners:
		return fmt.Errorf("%w: more than %d shares", ErrBadMessage, MaxSigners)
	}
	return nil
}

// ParseAccount decodes and validates a record (the public key package
// with frost's checks: every verifying share on one polynomial of degree
// t−1 through the group key).
func ParseAccount(b []byte) (*Account, error) {
	if len(b) > MaxRecordSize {
		return nil, fmt.Errorf("%w: record of %d bytes", ErrBadMessage, len(b))
	}
	r := binfmt.NewReader(b)
	if v := r.U8(); v != recordVersion {
		return nil, fmt.Errorf("%w: record version %d", ErrBadMessage, v)
	}
	a := &Account{ID: r.String8()}
	a.Device = bytes.Clone(r.Bytes(ed25519.PublicKeySize))
	a.Digits = int(r.U8())
	a.Period = int(r.U16())
	a.Epoch = r.U32()
	pkg := r.Bytes32(MaxPackageSize)
	if !r.Done() {
		return nil, fmt.Errorf("%w: record truncated or with trailing bytes", ErrBadMessage)
	}
	var err error
	if a.Key, err = frost.UnmarshalPublicKeyPackage(pkg); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	if err := a.check(); err != nil {
		return nil, err
	}
	return a, nil
}

// sameAccount reports whether b may follow a: the same account, device,
// TOTP parameters, group key and threshold, and the same share
// identifiers (a refresh changes only the epoch and verifying shares).
func sameAccount(a, b *Account) bool {
	return a.ID == b.ID && bytes.Equal(a.Device, b.Device) && a.Digits == b.Digits && a.Period == b.Period &&
		bytes.Equal(a.Key.GroupKey(), b.Key.GroupKey()) && a.Key.Threshold() == b.Key.Threshold() &&
		slicesEqual(a.Key.Identifiers(), b.Key.Identifiers())
}

func slicesEqual(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
