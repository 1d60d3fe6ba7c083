package sources

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
)

// Overlap returns an Emit that lets a source read on while its batches are published: a batch
// without a checkpoint is handed to emit in the background and the call returns at once; the
// next call waits for it first and returns its error. A batch with a checkpoint is emitted only
// after every batch before it was, and returns when it was, so a checkpoint still follows
// everything it covers (the rule of Emit). One batch is published while the next is read: on a
// 2-core machine that is most of the overlap to be had, and it bounds what is held.
//
// wait must be called once the source returns: it waits for the batch still in flight and
// returns its error. emit is never called twice at once.
func Overlap(emit Emit) (overlapped Emit, wait func() error) {
	var inflight chan error
	wait = func() error {
		if inflight == nil {
			return nil
		}
		err := <-inflight
		inflight = nil
		return err
	}
	overlapped = func(ctx context.Context, b Batch) error {
		if err := wait(); err != nil {
			return err
		}
		if b.Checkpoint != nil || len(b.Messages) == 0 {
			return emit(ctx, b)
		}
		b.Messages = slices.Clone(b.Messages) // the source reuses its slice once this returns
		done := make(chan error, 1)
		inflight = done
		go func() {
			// A panic here would escape the poll's own recover and end the process: it becomes
			// the batch's error instead, like a panic anywhere else in a poll.
			defer func() {
				if r := recover(); r != nil {
					done <- fmt.Errorf("panic: %v\n%s", r, debug.Stack())
				}
			}()
			done <- emit(ctx, b)
		}()
		return nil
	}
	return overlapped, wait
}
