package sources

import (
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/alertexport/alertexport/sources/page"
)

// TestDeadLetterIDOfTooLargeAlerts: two alerts over the cap that begin alike (only their first
// bytes are kept) get different message IDs, made of all their bytes, and each the same at
// every re-read; an ordinary dead letter's ID is made of its bytes as before.
func TestDeadLetterIDOfTooLargeAlerts(t *testing.T) {
	t.Parallel()
	prefix := []byte(`{"id":"x","title":"aaaa`)
	a := &page.TooLargeError{Size: 5 << 20, Sum: sha256.Sum256([]byte("first alert, all its bytes"))}
	b := &page.TooLargeError{Size: 5 << 20, Sum: sha256.Sum256([]byte("second alert, all its bytes"))}
	idA, idB := DeadLetterID("contoso", "graph", prefix, a), DeadLetterID("contoso", "graph", prefix, b)
	if idA == idB {
		t.Errorf("two too-large alerts that begin alike share the message ID %s", idA)
	}
	if again := DeadLetterID("contoso", "graph", prefix, a); again != idA {
		t.Errorf("a re-read gets %s, want %s", again, idA)
	}
	plain := DeadLetterID("contoso", "graph", prefix, errors.New("not normalized"))
	if plain == idA || plain != DeadLetterID("contoso", "graph", prefix, nil) {
		t.Errorf("an ordinary dead letter's ID %s is not made of its bytes", plain)
	}
}
