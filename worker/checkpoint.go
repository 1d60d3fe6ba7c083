package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertexport/alertexport/sources"
)

// Store keeps each job's checkpoint (docs/delivery.md). Writes are compare-and-set on a revision,
// so two writers can never interleave: a replica that lost its job fails to save instead of undoing
// the other's progress.
type Store interface {
	// Load returns the checkpoint of key and its revision; a key never saved gives a zero
	// checkpoint and revision 0.
	Load(ctx context.Context, key string) (sources.Checkpoint, uint64, error)
	// Save writes cp if key is still at revision rev (0: not saved yet) and returns the new
	// revision; ErrConflict otherwise.
	Save(ctx context.Context, key string, cp *sources.Checkpoint, rev uint64) (uint64, error)
}

// ErrConflict: someone else saved the checkpoint since it was loaded.
var ErrConflict = errors.New("the checkpoint was changed by another writer")

// StateBucket is the KV bucket of the checkpoints in jetstream mode.
const StateBucket = "alertexport_state"

// KVStore keeps checkpoints in the JetStream KV bucket alertexport_state, key <tenant>.<source>.
//
// A checkpoint is JSON, readable with `nats kv get`. One that lists many versions (a burst of
// alerts inside the lookback: about 55 bytes each) is stored zstd-compressed instead, at a
// tenth to a third of the size, because a KV value must fit the server's max_payload (1 MiB by
// default: some 18,000 versions as JSON; BENCHMARKS.md). Load reads both.
type KVStore struct {
	kv  jetstream.KeyValue
	enc *zstd.Encoder
	dec *zstd.Decoder
}

// compressAbove is the size past which a checkpoint is stored compressed.
const compressAbove = 64 << 10

// maxCheckpoint bounds a compressed checkpoint's decoded size: far above what a KV value that
// fits max_payload decodes to (64 MiB, nats-server's largest, compressed a tenth), low enough
// that a value written by someone else cannot exhaust memory.
const maxCheckpoint = 64 << 20

// NewKVStore opens (or creates) the bucket, with replicas replicas (nats.replicas; 0 keeps an
// existing bucket's count, see ensureBucket). It keeps a little history, so an operator can see
// how a cursor moved (nats kv history).
func NewKVStore(ctx context.Context, js jetstream.JetStream, replicas int, log *slog.Logger) (*KVStore, error) {
	kv, err := ensureBucket(ctx, js, jetstream.KeyValueConfig{
		Bucket:      StateBucket,
		Description: "alertexport checkpoints: cursor and recently exported versions per (tenant, source)",
		History:     5,
		Storage:     jetstream.FileStorage,
	}, replicas, log)
	if err != nil {
		return nil, fmt.Errorf("KV bucket %s: %w", StateBucket, err)
	}
	return newKVStore(kv)
}

func newKVStore(kv jetstream.KeyValue) (*KVStore, error) {
	// One frame, of at most a few MiB, at a time: a small window keeps the encoder's memory low.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20))
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxMemory(maxCheckpoint))
	if err != nil {
		return nil, err
	}
	return &KVStore{kv: kv, enc: enc, dec: dec}, nil
}

// zstdMagic starts every zstd frame (RFC 8878 §3.1.1); JSON never starts so.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// Load implements Store.
func (s *KVStore) Load(ctx context.Context, key string) (sources.Checkpoint, uint64, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return sources.Checkpoint{}, 0, nil
	}
	if err != nil {
		return sources.Checkpoint{}, 0, fmt.Errorf("checkpoint %s: %w", key, err)
	}
	data := e.Value()
	if bytes.HasPrefix(data, zstdMagic) {
		if data, err = s.decompress(data); err != nil {
			return sources.Checkpoint{}, 0, fmt.Errorf("checkpoint %s (revision %d) cannot be decompressed: %w; delete it with `nats kv del %s %s` to start over from start_from", key, e.Revision(), err, StateBucket, key)
		}
	}
	var cp sources.Checkpoint
	if err := json.Unmarshal(data, &cp); err != nil {
		return sources.Checkpoint{}, 0, fmt.Errorf("checkpoint %s (revision %d) is not valid JSON: %w; delete it with `nats kv del %s %s` to start over from start_from", key, e.Revision(), err, StateBucket, key)
	}
	return cp, e.Revision(), nil
}

// decompress decodes a compressed checkpoint. Save's frames declare their size; one that does
// not, or declares more than maxCheckpoint, is refused before anything is allocated (a frame
// without a size would grow its output by doubling up to the decoder's limit).
func (s *KVStore) decompress(data []byte) ([]byte, error) {
	var h zstd.Header
	if err := h.Decode(data); err != nil {
		return nil, err
	}
	if !h.HasFCS || h.FrameContentSize > maxCheckpoint {
		return nil, fmt.Errorf("the compressed checkpoint does not declare a size of at most %d bytes, as alertexport writes it", maxCheckpoint)
	}
	return s.dec.DecodeAll(data, make([]byte, 0, h.FrameContentSize))
}

// Save implements Store.
func (s *KVStore) Save(ctx context.Context, key string, cp *sources.Checkpoint, rev uint64) (uint64, error) {
	data, err := json.Marshal(cp)
	if err != nil {
		return 0, err
	}
	plain := len(data)
	if plain > compressAbove {
		data = s.enc.EncodeAll(data, make([]byte, 0, plain/2))
	}
	var next uint64
	if rev == 0 {
		next, err = s.kv.Create(ctx, key, data)
	} else {
		next, err = s.kv.Update(ctx, key, data, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return 0, fmt.Errorf("checkpoint %s: %w", key, ErrConflict)
	}
	if errors.Is(err, nats.ErrMaxPayload) {
		size := fmt.Sprintf("%d bytes", plain)
		if len(data) != plain {
			size = fmt.Sprintf("%d bytes compressed (%d as JSON)", len(data), plain)
		}
		return 0, fmt.Errorf("checkpoint %s is %s: it lists the %d versions exported within the lookback (and %d strays), more than the NATS server's max_payload takes: raise max_payload on the server or shorten lookback: %w",
			key, size, cp.Seen.Len(), cp.Strays.Len(), err)
	}
	if err != nil {
		return 0, fmt.Errorf("checkpoint %s: %w", key, err)
	}
	return next, nil
}

// FileStore keeps checkpoints in <dir>/<tenant>.<source>.json (core mode). Each save writes a
// temporary file, syncs it and renames it over the old one, so a crash leaves the old or the new
// checkpoint, never half of one. The revision is a counter inside the file.
type FileStore struct {
	dir string
	mu  sync.Mutex
}

// NewFileStore creates dir if needed.
func NewFileStore(dir string) (*FileStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("checkpoint directory: %w", err)
	}
	return &FileStore{dir: dir}, nil
}

type fileCheckpoint struct {
	Revision   uint64             `json:"revision"`
	Checkpoint sources.Checkpoint `json:"checkpoint"`
}

func (s *FileStore) path(key string) string { return filepath.Join(s.dir, key+".json") }

// Load implements Store.
func (s *FileStore) Load(_ context.Context, key string) (sources.Checkpoint, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fc, err := s.read(key)
	return fc.Checkpoint, fc.Revision, err
}

func (s *FileStore) read(key string) (fileCheckpoint, error) {
	data, err := os.ReadFile(s.path(key))
	if errors.Is(err, os.ErrNotExist) {
		return fileCheckpoint{}, nil
	}
	if err != nil {
		return fileCheckpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	var fc fileCheckpoint
	if err := json.Unmarshal(data, &fc); err != nil {
		return fileCheckpoint{}, fmt.Errorf("checkpoint %s is not valid JSON: %w; delete it to start over from start_from", s.path(key), err)
	}
	return fc, nil
}

// Save implements Store.
func (s *FileStore) Save(_ context.Context, key string, cp *sources.Checkpoint, rev uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.read(key)
	if err != nil {
		return 0, err
	}
	if cur.Revision != rev {
		return 0, fmt.Errorf("checkpoint %s: %w", key, ErrConflict)
	}
	data, err := json.Marshal(fileCheckpoint{Revision: rev + 1, Checkpoint: *cp})
	if err != nil {
		return 0, err
	}
	if err := writeAtomic(s.path(key), data); err != nil {
		return 0, fmt.Errorf("checkpoint %s: %w", key, err)
	}
	return rev + 1, nil
}

// writeAtomic writes data to path through a synced temporary file and a rename, then syncs the
// directory so the rename itself survives a power loss.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
