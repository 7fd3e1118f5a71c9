package psi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func randomKey(t testing.TB) []byte {
	t.Helper()
	key := make([]byte, KeySize)
	_, err := rand.Read(key)
	require.NoError(t, err)
	return key
}

func randomSession(t testing.TB) [32]byte {
	t.Helper()
	var s [32]byte
	_, err := rand.Read(s[:])
	require.NoError(t, err)
	return s
}

func newTestTagger(t testing.TB) *Tagger {
	t.Helper()
	tg, err := NewTagger(randomKey(t), randomSession(t))
	require.NoError(t, err)
	return tg
}

// testIDs returns n distinct identifiers of varying length, so that the
// HMAC input crosses SHA-256 block boundaries.
func testIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("cust-%d-%s", i, strings.Repeat("x", i%150))
	}
	return ids
}

// referenceTag computes a tag straight from the definition.
func referenceTag(key []byte, session [32]byte, id string) (Tag, Secret) {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("maskshare keyed tag v1"))
	mac.Write(session[:])
	mac.Write([]byte(id))
	sum := mac.Sum(nil)
	return Tag(sum[:16]), Secret(sum[16:])
}

// tagOnly is Tag without the secret.
func (t *Tagger) tagOnly(id string) Tag {
	tg, _ := t.Tag(id)
	return tg
}

func TestNewTaggerKeySize(t *testing.T) {
	for _, n := range []int{0, 1, 16, KeySize - 1, KeySize + 1, 64} {
		_, err := NewTagger(make([]byte, n), [32]byte{})
		assert.Error(t, err, "key of %d bytes", n)
	}
	_, err := NewTagger(make([]byte, KeySize), [32]byte{})
	assert.NoError(t, err)
}

func TestTagMatchesHMAC(t *testing.T) {
	key, session := randomKey(t), randomSession(t)
	tg, err := NewTagger(key, session)
	require.NoError(t, err)
	ids := append(testIDs(200), "", "k", strings.Repeat("é", 500))
	for _, id := range ids {
		wantTag, wantSecret := referenceTag(key, session, id)
		gotTag, gotSecret := tg.Tag(id)
		require.Equal(t, wantTag, gotTag, "id %q", id)
		require.Equal(t, wantSecret, gotSecret, "id %q", id)
	}
}

func TestTaggerCopiesKey(t *testing.T) {
	key, session := randomKey(t), randomSession(t)
	tg, err := NewTagger(key, session)
	require.NoError(t, err)
	want, _ := referenceTag(key, session, "id")
	clear(key)
	assert.Equal(t, want, tg.tagOnly("id"))
}

func TestTagSeparation(t *testing.T) {
	key1, key2 := randomKey(t), randomKey(t)
	s1, s2 := randomSession(t), randomSession(t)
	t11, err := NewTagger(key1, s1)
	require.NoError(t, err)
	t12, err := NewTagger(key1, s2)
	require.NoError(t, err)
	t21, err := NewTagger(key2, s1)
	require.NoError(t, err)

	seen := make(map[Tag]string)
	add := func(what string, tg Tag) {
		if prev, ok := seen[tg]; ok {
			t.Fatalf("%s and %s give the same tag", prev, what)
		}
		seen[tg] = what
	}
	for _, id := range []string{"a", "ab", "b", "a\x00", "cust-1"} {
		add("key1/session1/"+id, t11.tagOnly(id))
		add("key1/session2/"+id, t12.tagOnly(id))
		add("key2/session1/"+id, t21.tagOnly(id))
	}
}

func TestTagAllMatchesTag(t *testing.T) {
	tg := newTestTagger(t)
	ids := testIDs(5*tagChunk + 3)
	want := make([]Tag, len(ids))
	wantSecrets := make([]Secret, len(ids))
	for i, id := range ids {
		want[i], wantSecrets[i] = tg.Tag(id)
	}
	sizes := []int{0, 1, 2, tagChunk - 1, tagChunk, tagChunk + 1,
		2*tagChunk - 1, 2 * tagChunk, 2*tagChunk + 1, 5*tagChunk + 3}
	for _, procs := range []int{1, 2, 3, 8} {
		t.Run(fmt.Sprintf("procs=%d", procs), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			for _, n := range sizes {
				dst := make([]Tag, n)
				for i := range dst {
					dst[i] = Tag{0xff, 0xee} // detect entries left unwritten
				}
				secrets := make([]Secret, n)
				tg.TagAll(dst, secrets, ids[:n])
				require.Equal(t, want[:n], dst, "n=%d", n)
				require.Equal(t, wantSecrets[:n], secrets, "n=%d", n)
				tg.TagAll(dst, nil, ids[:n]) // secrets are optional
				require.Equal(t, want[:n], dst, "n=%d", n)
			}
		})
	}
}

func TestTagAllLengthMismatch(t *testing.T) {
	tg := newTestTagger(t)
	assert.Panics(t, func() { tg.TagAll(make([]Tag, 2), nil, []string{"a"}) })
	assert.Panics(t, func() { tg.TagAll(make([]Tag, 1), make([]Secret, 2), []string{"a"}) })
}

func TestTagConcurrent(t *testing.T) {
	tg := newTestTagger(t)
	ids := testIDs(300)
	want := make([]Tag, len(ids))
	for i, id := range ids {
		want[i] = tg.tagOnly(id)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range 20 {
				for i := range ids {
					j := (i + g*37 + r) % len(ids)
					if tg.tagOnly(ids[j]) != want[j] {
						errs <- ids[j]
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for id := range errs {
		t.Errorf("concurrent Tag(%q) differs", id)
	}
}

func TestZeroTaggerPanics(t *testing.T) {
	var tg Tagger
	assert.PanicsWithValue(t, "psi: Tagger not created by NewTagger", func() { tg.Tag("a") })
	assert.PanicsWithValue(t, "psi: Tagger not created by NewTagger", func() { tg.TagAll(nil, nil, nil) })
}
