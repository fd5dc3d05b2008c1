// Package kafkatest has helpers for tests that talk to a real Kafka broker:
// produce a set of messages, read a topic to its end, and read a consumer
// group's committed offsets.
package kafkatest

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// Produce writes messages to topic with acks=all, keyed like the
// processor's producers (murmur2, as Java clients partition).
func Produce(tb testing.TB, brokers []string, topic string, msgs []kafka.Message) {
	tb.Helper()
	w := &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Topic:        topic,
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 5 * time.Millisecond,
		BatchSize:    5000,
		BatchBytes:   1_000_000,
		// a private transport: the default one caches metadata process-wide
		// and would not know the topics a test just created
		Transport: &kafka.Transport{MetadataTTL: time.Second},
	}
	defer func() { _ = w.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for len(msgs) > 0 {
		n := min(len(msgs), 5000)
		for attempt := 1; ; attempt++ {
			err := w.WriteMessages(ctx, msgs[:n]...)
			if err == nil {
				break
			}
			if !errors.Is(err, kafka.UnknownTopicOrPartition) || attempt == 20 {
				tb.Fatalf("produce to %s: %v", topic, err)
			}
			time.Sleep(250 * time.Millisecond) // metadata of a new topic propagating
		}
		msgs = msgs[n:]
	}
}

func client(brokers []string) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
}

// Partitions returns the partition ids of topic.
func Partitions(tb testing.TB, brokers []string, topic string) []int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	md, err := client(brokers).Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		tb.Fatalf("metadata of %s: %v", topic, err)
	}
	for _, t := range md.Topics {
		if t.Name == topic {
			if t.Error != nil {
				tb.Fatalf("metadata of %s: %v", topic, t.Error)
			}
			ids := make([]int, len(t.Partitions))
			for i, p := range t.Partitions {
				ids[i] = p.ID
			}
			return ids
		}
	}
	tb.Fatalf("metadata of %s: topic not found", topic)
	return nil
}

// EndOffsets returns the end (next) offset of every partition of topic.
func EndOffsets(tb testing.TB, brokers []string, topic string) map[int]int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var reqs []kafka.OffsetRequest
	for _, p := range Partitions(tb, brokers, topic) {
		reqs = append(reqs, kafka.LastOffsetOf(p))
	}
	res, err := client(brokers).ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		tb.Fatalf("list offsets of %s: %v", topic, err)
	}
	out := map[int]int64{}
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			tb.Fatalf("list offsets of %s/%d: %v", topic, po.Partition, po.Error)
		}
		out[po.Partition] = po.LastOffset
	}
	return out
}

// Committed returns the group's committed offset per partition of topic
// (-1 where nothing is committed).
func Committed(tb testing.TB, brokers []string, group, topic string) map[int]int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	parts := Partitions(tb, brokers, topic)
	res, err := client(brokers).OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		tb.Fatalf("offset fetch of %s: %v", group, err)
	}
	if res.Error != nil {
		tb.Fatalf("offset fetch of %s: %v", group, res.Error)
	}
	out := map[int]int64{}
	for _, p := range res.Topics[topic] {
		out[p.Partition] = p.CommittedOffset
	}
	return out
}

// CaughtUp reports whether the group has committed every message of topic.
func CaughtUp(tb testing.TB, brokers []string, group, topic string) bool {
	tb.Helper()
	end := EndOffsets(tb, brokers, topic)
	com := Committed(tb, brokers, group, topic)
	for p, e := range end {
		if e > 0 && com[p] < e { // an empty partition has nothing to commit
			return false
		}
	}
	return true
}

// ReadAll reads every message of topic, partition by partition, up to the
// end offsets at the time of the call.
func ReadAll(tb testing.TB, brokers []string, topic string) []kafka.Message {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := client(brokers)
	var out []kafka.Message
	for p, end := range EndOffsets(tb, brokers, topic) {
		off := int64(0)
		for off < end {
			resp, err := c.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: p, Offset: off, MinBytes: 1, MaxBytes: 8 << 20, MaxWait: time.Second})
			if err == nil {
				err = resp.Error
			}
			if err != nil {
				tb.Fatalf("fetch %s/%d@%d: %v", topic, p, off, err)
			}
			for {
				rec, err := resp.Records.ReadRecord()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					tb.Fatalf("read %s/%d: %v", topic, p, err)
				}
				if rec.Offset < off || rec.Offset >= end {
					continue
				}
				m := kafka.Message{Topic: topic, Partition: p, Offset: rec.Offset, Time: rec.Time, Headers: rec.Headers}
				m.Key = readBytes(tb, rec.Key)
				m.Value = readBytes(tb, rec.Value)
				out = append(out, m)
				off = rec.Offset + 1
			}
		}
	}
	return out
}

func readBytes(tb testing.TB, b kafka.Bytes) []byte {
	if b == nil {
		return nil
	}
	buf, err := io.ReadAll(b)
	if err != nil {
		tb.Fatalf("read record bytes: %v", err)
	}
	return buf
}

// Header returns the value of the header named key, and whether it is set.
func Header(m kafka.Message, key string) (string, bool) {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}
