package page

import (
	"encoding/json"
	"errors"
	"io"
	"slices"
)

// Ahead makes DecodeInto decode the items on a goroutine of its own, a few batches ahead of
// item, which is still called on the caller's goroutine, one item at a time and in order. A
// source that normalizes and writes each alert as it takes it so overlaps that with decoding
// the next ones: on a large backlog, decoding is about half of the poll's CPU and taking the
// other half (BENCHMARKS.md, issue 20). item's bytes are borrowed, as with Borrow: they are
// valid only until item returns.
//
// When item fails, the decoder is told to stop and DecodeInto waits for it; a decoder blocked
// reading the body stops when the body's next bytes arrive or the caller's reader gives up on it
// (httpclient's idle timeout).
func Ahead() Option {
	return func(cf *config) { cf.ahead = true }
}

// aheadBatch is how many items the decoder hands over at once: handing over each alone would
// wake the caller for every alert.
const aheadBatch = 32

// aheadBatches bounds what is decoded and not yet taken: the batch being filled, those waiting
// and the one being taken. With Endpoint's 5–10 KB alerts that is about 1–2 MB.
const aheadBatches = 4

// decoded is one item the decoder read: its bytes are buf[from:to] of its batch.
type decoded[T any] struct {
	from, to int
	v        *T
	err      error
}

type batch[T any] struct {
	items []decoded[T]
	buf   []byte
}

// errStopped ends the decoder once its caller has stopped taking items.
var errStopped = errors.New("page: the caller stopped taking items")

func decodeAhead[T any](r io.Reader, items string, item func(raw []byte, v *T, err error) error, opts []Option) (map[string]json.RawMessage, error) {
	full := make(chan *batch[T], aheadBatches)
	free := make(chan *batch[T], aheadBatches)
	for range aheadBatches - 1 {
		free <- &batch[T]{}
	}
	stop := make(chan struct{})
	var (
		rest     map[string]json.RawMessage
		derr     error
		panicked any // a panic while decoding: raised again on the caller's goroutine
	)
	go func() {
		defer close(full)
		defer func() { panicked = recover() }()
		b := &batch[T]{}
		stopped := false
		hand := func() bool {
			select {
			case <-stop: // told to stop: not one batch more, even with room for it
				return false
			default:
			}
			select {
			case full <- b:
			case <-stop:
				return false
			}
			select {
			case b = <-free:
				return true
			case <-stop:
				b = nil // handed over: not this goroutine's any more
				return false
			}
		}
		opts := append(slices.Clip(opts), Borrow(), func(cf *config) { cf.ahead = false })
		rest, derr = DecodeInto(r, items, func(raw []byte, v *T, err error) error {
			from := len(b.buf)
			b.buf = append(b.buf, raw...)
			b.items = append(b.items, decoded[T]{from: from, to: len(b.buf), v: v, err: err})
			if len(b.items) == aheadBatch && !hand() {
				stopped = true
				return errStopped
			}
			return nil
		}, opts...)
		if !stopped && len(b.items) > 0 { // what was decoded before the end, or before the body broke
			select {
			case full <- b:
			case <-stop:
			}
		}
	}()
	// However this returns (an item's error, or a panic in item), the decoder is stopped and
	// waited for: it reads the caller's body, which the caller closes next.
	defer func() {
		close(stop)
		for range full {
		}
	}()
	for b := range full {
		for _, d := range b.items {
			if err := item(b.buf[d.from:d.to:d.to], d.v, d.err); err != nil {
				return nil, err
			}
		}
		clear(b.items) // the decoded items are the caller's now: let them go with it
		b.items, b.buf = b.items[:0], b.buf[:0]
		free <- b
	}
	if panicked != nil {
		// As if decoding had panicked here, as it does without Ahead: the poll's recover turns
		// it into the poll's error. (Ended by a panic, the page must not read as complete.)
		panic(panicked)
	}
	return rest, derr
}
