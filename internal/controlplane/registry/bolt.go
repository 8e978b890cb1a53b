package registry

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/enmasse-go/enmasse/internal/controlplane/model"
)

// Storage layout (see doc.go):
//
//	meta/format    "1"
//	meta/revision  uint64 big-endian, the revision of the last commit
//	objects/{plural}/{namespace}/{name} → record (JSON)
var (
	bucketMeta    = []byte("meta")
	bucketObjects = []byte("objects")
	keyFormat     = []byte("format")
	keyRevision   = []byte("revision")
)

const formatVersion = "1"

// record is the stored form of one object.
type record struct {
	// Created is the revision the object was created at.
	Created uint64 `json:"created"`
	// Secret is opaque data kept beside the object (user credentials).
	Secret []byte          `json:"secret,omitempty"`
	Object json.RawMessage `json:"object"`
}

type boltStore struct{ db *bolt.DB }

func openBolt(path string) (*boltStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("registry %s: locked by another process", path)
	}
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", path, err)
	}
	return &boltStore{db: db}, nil
}

func (s *boltStore) close() error { return s.db.Close() }

func objectKey(k key) []byte { return []byte(k.namespace + "/" + k.name) }

// load reads every object into r. Records that cannot be decoded are
// logged and skipped, not deleted, so that a newer version can still read
// them.
func (s *boltStore) load(r *Registry, logger *slog.Logger) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if f := meta.Get(keyFormat); f != nil {
			r.fresh = false
			if string(f) != formatVersion {
				return fmt.Errorf("registry: store format %q, this version reads %q", f, formatVersion)
			}
		} else if err := meta.Put(keyFormat, []byte(formatVersion)); err != nil {
			return err
		}
		if v := meta.Get(keyRevision); len(v) == 8 {
			r.rv = binary.BigEndian.Uint64(v)
		}
		objs, err := tx.CreateBucketIfNotExists(bucketObjects)
		if err != nil {
			return err
		}
		for _, k := range model.Kinds {
			b := objs.Bucket([]byte(k.Plural))
			if b == nil {
				continue
			}
			err := b.ForEach(func(kb, v []byte) error {
				if err := r.loadRecord(k, string(kb), v); err != nil {
					logger.Error("registry: skipping unreadable object", "kind", k.Kind, "key", string(kb), "err", err)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

func (r *Registry) loadRecord(k *model.KindInfo, storeKey string, data []byte) error {
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return err
	}
	obj := k.New()
	if err := json.Unmarshal(rec.Object, obj); err != nil {
		return err
	}
	m := obj.GetMeta()
	if ns, name, _ := strings.Cut(storeKey, "/"); ns != m.Namespace || name != m.Name {
		return fmt.Errorf("object %s/%s stored under key %s", m.Namespace, m.Name, storeKey)
	}
	if rv, err := ParseResourceVersion(m.ResourceVersion); err == nil && rv > r.rv {
		r.rv = rv
	}
	byNS := r.objects[k]
	if byNS == nil {
		byNS = map[string]map[string]*entry{}
		r.objects[k] = byNS
	}
	if byNS[m.Namespace] == nil {
		byNS[m.Namespace] = map[string]*entry{}
	}
	byNS[m.Namespace][m.Name] = &entry{obj: obj, created: rec.Created, secret: rec.Secret}
	return nil
}

// commit writes one batch in one transaction (one fsync).
func (s *boltStore) commit(changes []change, rv uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		objs := tx.Bucket(bucketObjects)
		for _, c := range changes {
			b, err := objs.CreateBucketIfNotExists([]byte(c.key.kind.Plural))
			if err != nil {
				return err
			}
			if c.e == nil {
				if err := b.Delete(objectKey(c.key)); err != nil {
					return err
				}
				continue
			}
			obj, err := json.Marshal(c.e.obj)
			if err != nil {
				return err
			}
			data, err := json.Marshal(record{Created: c.e.created, Secret: c.e.secret, Object: obj})
			if err != nil {
				return err
			}
			if err := b.Put(objectKey(c.key), data); err != nil {
				return err
			}
		}
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], rv)
		return tx.Bucket(bucketMeta).Put(keyRevision, v[:])
	})
}
