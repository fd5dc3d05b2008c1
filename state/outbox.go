package state

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// OutboxKey is the key of a partition's outbox: a hash from customer id to
// the output messages recorded for it and not yet known to be published.
//
// The processor records a batch's transitions (the customers' published
// segments and sequence) together with the messages that announce them,
// then publishes the messages, then clears the outbox. A crash after the
// record republishes the very same messages when the partition is next
// assigned (Outbox), so a transition is never lost and never changes its
// content or its place in the customer's sequence.
//
// The record is one pipeline, not a transaction (its keys may live on
// different Redis Cluster nodes): a crash can cut it after the outbox
// entries and before some customers' hashes. So the processor restores the
// published segments and sequence from the messages it republishes
// (RestorePublished) before it clears them: a replay then never gives a
// transition's id to another content.
func (s *Store) OutboxKey(topic string, partition int) string {
	return s.cfg.Prefix + ":ob:{" + topic + ":" + strconv.Itoa(partition) + "}"
}

// Message is an output message kept in the outbox.
type Message struct {
	Topic string
	Value []byte
}

// EncodeMessages packs messages for the outbox.
func EncodeMessages(dst []byte, msgs []Message) []byte {
	for _, m := range msgs {
		dst = binary.AppendUvarint(dst, uint64(len(m.Topic)))
		dst = append(dst, m.Topic...)
		dst = binary.AppendUvarint(dst, uint64(len(m.Value)))
		dst = append(dst, m.Value...)
	}
	return dst
}

var errCorruptOutbox = errors.New("corrupt outbox entry")

// DecodeMessages unpacks EncodeMessages' output.
func DecodeMessages(b []byte) ([]Message, error) {
	var out []Message
	next := func() ([]byte, error) {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return nil, errCorruptOutbox
		}
		v := b[k : k+int(n)]
		b = b[k+int(n):]
		return v, nil
	}
	for len(b) > 0 {
		topic, err := next()
		if err != nil {
			return nil, err
		}
		value, err := next()
		if err != nil {
			return nil, err
		}
		out = append(out, Message{Topic: string(topic), Value: value})
	}
	return out, nil
}

// Outbox returns the messages recorded and maybe not published, by
// customer id.
func (s *Store) Outbox(ctx context.Context, topic string, partition int) (map[string][]Message, error) {
	raw, err := s.rdb.HGetAll(ctx, s.OutboxKey(topic, partition)).Result()
	if err != nil {
		return nil, fmt.Errorf("%w: read outbox: %w", ErrUnavailable, err)
	}
	out := make(map[string][]Message, len(raw))
	for id, v := range raw {
		msgs, err := DecodeMessages([]byte(v))
		if err != nil {
			return nil, fmt.Errorf("state: outbox of %s/%d, customer %q: %w", topic, partition, id, err)
		}
		out[id] = msgs
	}
	return out, nil
}

// ClearOutbox removes the customers' outbox entries after their messages
// were published.
func (s *Store) ClearOutbox(ctx context.Context, topic string, partition int, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := s.rdb.HDel(ctx, s.OutboxKey(topic, partition), ids...).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("%w: clear outbox: %w", ErrUnavailable, err)
	}
	return nil
}

// RestorePublished writes what a customer's record says was published (by
// segmentation, and the churn-risk level under scoring.ChurnKey) and its
// transition sequence, unless the customer's state holds seq or a later
// sequence already: the record landed. It reports whether it wrote. The
// write is fenced like a sweep's: it does not land over a newer owner's.
func (s *Store) RestorePublished(ctx context.Context, topic string, partition int, id string, published map[string]string, seq int64) (bool, error) {
	if seq <= 0 {
		return false, nil
	}
	loaded, err := s.Load(ctx, []string{id})
	if err != nil {
		return false, err
	}
	st := &loaded[0].State
	if !loaded[0].Found || st.Seq >= seq {
		return false, nil
	}
	if st.Published == nil {
		st.Published = make(map[string]string, len(published))
	}
	for k, v := range published {
		st.Published[k] = v
	}
	st.Seq = seq
	v, err := s.AppendValue(ctx, nil, st)
	if err != nil {
		return false, err
	}
	res, err := s.Write(ctx, &Batch{Topic: topic, Partition: partition,
		Records: []Record{{CustomerID: id, Value: v, Offset: st.Watermark(PartitionOf(topic, partition))}}})
	if err != nil {
		return false, err
	}
	return len(res.Fenced) == 0, nil
}
