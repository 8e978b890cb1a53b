package cli

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/enmasse-go/enmasse/internal/broker"

	"github.com/enmasse-go/enmasse/internal/mqtt"
	"github.com/enmasse-go/enmasse/internal/store"
)

// mqttSessions implements mqtt.SessionStore: the session records go to a
// journal of their own in DATA-DIR/mqtt (package store, like the broker's
// journal, not the bbolt control-plane db: a QoS 2 exchange or a message
// to a persistent session writes a record, so the per-message path needs
// the journal's group commit, and its segments are reclaimed once the
// records are deleted, where bbolt's file never shrinks); subscriptions
// are durable broker subscriptions, whose messages are in the broker's
// journal.
type mqttSessions struct {
	*store.Log
	dp *dataPlane
}

// open opens the session journal; the gateway uses m only after that.
func (m *mqttSessions) open(dataDir string, logger *slog.Logger) error {
	log, err := store.Open(store.Options{
		Dir:             filepath.Join(dataDir, "mqtt"),
		SegmentSize:     8 << 20,
		CompactInterval: 30 * time.Second,
		Logger:          logger.With("component", "mqtt-sessions"),
	})
	if err != nil {
		return fmt.Errorf("opening the MQTT session journal: %w", err)
	}
	m.Log = log
	return nil
}

func (m *mqttSessions) Space(user string) string { return m.dp.router.SpaceOf(user) }

// PutMany implements mqtt.SessionStore: one PutBatch (all or none, one
// fsync).
func (m *mqttSessions) PutMany(ctx context.Context, keys []uint64, data [][]byte) error {
	recs := make([]store.Record, len(keys))
	for i, k := range keys {
		recs[i] = store.Record{Key: k, Data: data[i]}
	}
	return m.PutBatch(ctx, recs)
}

func (m *mqttSessions) DropSubscription(space, name string) error {
	m.dp.broker.DeleteSubscriptions(space, name)
	return nil
}

// dropOrphans deletes the gateway's durable broker subscriptions that no
// session records (a crash between creating one and recording it).
func (m *mqttSessions) dropOrphans(gw *mqtt.Server, logger *slog.Logger) {
	for space, names := range m.dp.broker.SubscriptionsWithPrefix(mqtt.SubscriptionPrefix) {
		for _, n := range names {
			if !gw.KeepsSubscription(space, n) {
				logger.Info("deleting an MQTT subscription no session owns", "space", space, "subscription", n)
				m.dp.broker.DeleteSubscriptions(space, n)
			}
		}
	}
}

// start opens the gateway's sessions: expired ones are deleted.
func (m *mqttSessions) start(gw *mqtt.Server, logger *slog.Logger) error {
	if err := gw.LoadSessions(); err != nil {
		return err
	}
	m.dropOrphans(gw, logger)
	return nil
}

// isMQTTSubscription reports whether q is the durable subscription of an
// MQTT persistent session (`{topic}::mqtt:...`). Those are not addresses:
// after a restart they are not given to the router (the control plane
// would adopt them as Address resources without a topic), only attached
// through their topic filters by the gateway.
func isMQTTSubscription(q broker.QueueInfo) bool {
	if q.Type != "subscription" {
		return false
	}
	_, name, ok := strings.Cut(q.Name, "::")
	return ok && strings.HasPrefix(name, mqtt.SubscriptionPrefix)
}
