package sources

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

// TestOverlap: a batch without a checkpoint is published while the next is read; a batch with a
// checkpoint is emitted only after everything before it; a background failure comes back from
// the next call, or from wait; the source's reused slice is not what the background reads.
func TestOverlap(t *testing.T) {
	t.Run("reads on while a batch publishes", func(t *testing.T) {
		release := make(chan struct{})
		started := make(chan string, 4)
		emit, wait := Overlap(func(ctx context.Context, b Batch) error {
			started <- b.Messages[0].MsgID
			<-release
			return nil
		})
		msgs := []Message{{MsgID: "a"}}
		if err := emit(context.Background(), Batch{Messages: msgs}); err != nil {
			t.Fatal(err)
		}
		msgs[0].MsgID = "reused" // the source refills its slice at once
		if got := <-started; got != "a" {
			t.Errorf("the background batch saw %q, want a", got)
		}
		close(release)
		if err := wait(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a checkpoint waits for the batches before it", func(t *testing.T) {
		var mu sync.Mutex
		var order []string
		first := make(chan struct{})
		emit, wait := Overlap(func(ctx context.Context, b Batch) error {
			if b.Checkpoint == nil {
				<-first
			}
			mu.Lock()
			order = append(order, b.Messages[0].MsgID)
			mu.Unlock()
			return nil
		})
		if err := emit(context.Background(), Batch{Messages: []Message{{MsgID: "batch"}}}); err != nil {
			t.Fatal(err)
		}
		go close(first) // whenever it comes, the checkpoint cannot be emitted before the batch
		if err := emit(context.Background(), Batch{Messages: []Message{{MsgID: "checkpoint"}}, Checkpoint: &Checkpoint{}}); err != nil {
			t.Fatal(err)
		}
		if err := wait(); err != nil {
			t.Fatal(err)
		}
		if len(order) != 2 || order[0] != "batch" || order[1] != "checkpoint" {
			t.Errorf("emitted %v, want the batch before the checkpoint", order)
		}
	})
	t.Run("a failure comes back from the next call", func(t *testing.T) {
		boom := errors.New("boom")
		emit, wait := Overlap(func(ctx context.Context, b Batch) error { return boom })
		if err := emit(context.Background(), Batch{Messages: []Message{{MsgID: "a"}}}); err != nil {
			t.Fatalf("the first call failed at once: %v", err)
		}
		if err := emit(context.Background(), Batch{Messages: []Message{{MsgID: "b"}}}); !errors.Is(err, boom) {
			t.Errorf("next call = %v, want boom", err)
		}
		if err := wait(); err != nil {
			t.Errorf("wait = %v after the failure was returned, want nil", err)
		}
	})
	t.Run("a failure of the last batch comes back from wait", func(t *testing.T) {
		boom := errors.New("boom")
		emit, wait := Overlap(func(ctx context.Context, b Batch) error { return boom })
		if err := emit(context.Background(), Batch{Messages: []Message{{MsgID: "a"}}}); err != nil {
			t.Fatal(err)
		}
		if err := wait(); !errors.Is(err, boom) {
			t.Errorf("wait = %v, want boom", err)
		}
	})
	t.Run("a panic while publishing is the batch's error", func(t *testing.T) {
		emit, wait := Overlap(func(ctx context.Context, b Batch) error { panic("a bug in the sink") })
		if err := emit(context.Background(), Batch{Messages: []Message{{MsgID: "a"}}}); err != nil {
			t.Fatal(err)
		}
		if err := wait(); err == nil || !strings.Contains(err.Error(), "a bug in the sink") {
			t.Errorf("wait = %v, want the panic as an error", err)
		}
	})
}
