package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"
)

// The processor's fetch settings (processor.Config defaults).
const (
	fetchMaxBytes = 4 << 20
	fetchMaxWait  = 250 * time.Millisecond
)

// kafkaAdmin wraps the admin calls the bench needs.
type kafkaAdmin struct {
	client *kafka.Client
}

func newKafkaAdmin(brokers []string) *kafkaAdmin {
	return &kafkaAdmin{client: &kafka.Client{
		Addr:      kafka.TCP(brokers...),
		Timeout:   30 * time.Second,
		Transport: &kafka.Transport{MetadataTTL: time.Second},
	}}
}

// createTopics creates the topics and waits until every partition answers
// a ListOffsets request of its leader.
func (k *kafkaAdmin) createTopics(ctx context.Context, partitions int, topics ...string) error {
	req := &kafka.CreateTopicsRequest{}
	for _, t := range topics {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: 1})
	}
	res, err := k.client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	for t, err := range res.Errors {
		if err != nil {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, t := range topics {
		for {
			_, err := k.endOffsets(ctx, t, partitions)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("topic %s not ready: %w", t, err)
			}
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return err
			}
		}
	}
	return nil
}

func (k *kafkaAdmin) deleteTopics(ctx context.Context, topics ...string) error {
	_, err := k.client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: topics})
	return err
}

// endOffsets returns the end (next) offset of each partition 0..n-1.
func (k *kafkaAdmin) endOffsets(ctx context.Context, topic string, n int) ([]int64, error) {
	return k.offsets(ctx, topic, n, kafka.LastOffset)
}

func (k *kafkaAdmin) offsets(ctx context.Context, topic string, n int, which int64) ([]int64, error) {
	reqs := make([]kafka.OffsetRequest, n)
	for p := range reqs {
		reqs[p] = kafka.OffsetRequest{Partition: p, Timestamp: which}
	}
	res, err := k.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, err
	}
	out := make([]int64, n)
	got := 0
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("%s/%d: %w", topic, po.Partition, po.Error)
		}
		if po.Partition >= 0 && po.Partition < n {
			if which == kafka.LastOffset {
				out[po.Partition] = po.LastOffset
			} else {
				out[po.Partition] = po.FirstOffset
			}
			got++
		}
	}
	if got != n {
		return nil, fmt.Errorf("%s: %d of %d partitions answered", topic, got, n)
	}
	return out, nil
}

// committed returns the group's committed offsets of topic's partitions
// 0..n-1 (negative where nothing is committed).
func (k *kafkaAdmin) committed(ctx context.Context, group, topic string, n int) ([]int64, error) {
	parts := make([]int, n)
	for i := range parts {
		parts[i] = i
	}
	res, err := k.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		return nil, err
	}
	if res.Error != nil {
		return nil, res.Error
	}
	out := make([]int64, n)
	for i := range out {
		out[i] = -1
	}
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			return nil, p.Error
		}
		if p.Partition >= 0 && p.Partition < n {
			out[p.Partition] = p.CommittedOffset
		}
	}
	return out, nil
}

// partitionOf is the partition the processor's producers (murmur2, as Java
// clients partition) pick for key.
func partitionOf(key []byte, n int) int {
	parts := make([]int, n)
	for i := range parts {
		parts[i] = i
	}
	return (&kafka.Murmur2Balancer{}).Balance(kafka.Message{Key: key}, parts...)
}

// produce writes msgs to topic with acks=all, preserving the order of the
// messages of each partition: one writer goroutine per partition, each
// sending its partition's messages in order. msgs[i].Partition must be set.
func produce(ctx context.Context, brokers []string, topic string, partitions int, msgs []kafka.Message) error {
	byPart := make([][]kafka.Message, partitions)
	for _, m := range msgs {
		byPart[m.Partition] = append(byPart[m.Partition], m)
	}
	w := &kafka.Writer{
		Addr:  kafka.TCP(brokers...),
		Topic: topic,
		Balancer: kafka.BalancerFunc(func(m kafka.Message, _ ...int) int {
			return m.Partition
		}),
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 2 * time.Millisecond,
		BatchSize:    5000,
		BatchBytes:   1_000_000,
		MaxAttempts:  10,
		Transport:    &kafka.Transport{MetadataTTL: time.Second},
	}
	defer func() { _ = w.Close() }()
	g, gctx := errgroup.WithContext(ctx)
	for _, part := range byPart {
		g.Go(func() error {
			for len(part) > 0 {
				n := min(len(part), 5000)
				if err := w.WriteMessages(gctx, part[:n]...); err != nil {
					return fmt.Errorf("produce to %s: %w", topic, err)
				}
				part = part[n:]
			}
			return nil
		})
	}
	return g.Wait()
}

// consumeCeiling reads every partition of topic from start to end with the
// processor's fetch loop (Client.Fetch per partition, each on a connection
// of its own, same MinBytes, MaxBytes and MaxWait; keys, values and headers
// copied out of the fetch buffer) and no processing. It returns how many
// messages it read.
func consumeCeiling(ctx context.Context, brokers []string, topic string, start, end []int64) (int64, error) {
	var total atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for p := range start {
		g.Go(func() error {
			t := &kafka.Transport{}
			defer t.CloseIdleConnections()
			client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: t}
			return fetchRange(gctx, client, topic, p, start[p], end[p], fetchMaxBytes, fetchMaxWait, func(rec kafka.Record) error {
				if _, err := readBytes(rec.Key); err != nil {
					return err
				}
				if _, err := readBytes(rec.Value); err != nil {
					return err
				}
				for _, h := range rec.Headers {
					_ = append([]byte(nil), h.Value...)
				}
				total.Add(1)
				return nil
			})
		})
	}
	err := g.Wait()
	return total.Load(), err
}

// record is one message read back: its key and Kafka timestamp.
type record struct {
	key  string
	time time.Time
}

// readRange reads the records of every partition of topic from start up to
// end and calls fn with each (from several goroutines: fn must be safe for
// concurrent use).
func readRange(ctx context.Context, brokers []string, topic string, start, end []int64, fn func(record)) error {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: &kafka.Transport{}}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for p := range start {
		g.Go(func() error {
			return fetchRange(gctx, client, topic, p, start[p], end[p], 8<<20, time.Second, func(rec kafka.Record) error {
				key, err := readBytes(rec.Key)
				if err != nil {
					return err
				}
				mu.Lock()
				fn(record{key: string(key), time: rec.Time})
				mu.Unlock()
				return nil
			})
		})
	}
	return g.Wait()
}

// fetchRange fetches partition p of topic from offset from up to to and
// calls fn with every record in between, in order.
func fetchRange(ctx context.Context, client *kafka.Client, topic string, p int, from, to int64,
	maxBytes int64, maxWait time.Duration, fn func(kafka.Record) error) error {
	off := from
	for off < to {
		resp, err := client.Fetch(ctx, &kafka.FetchRequest{
			Topic: topic, Partition: p, Offset: off, MinBytes: 1, MaxBytes: maxBytes, MaxWait: maxWait,
		})
		if err == nil {
			err = resp.Error
		}
		if err != nil {
			return fmt.Errorf("fetch %s/%d@%d: %w", topic, p, off, err)
		}
		for {
			rec, err := resp.Records.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("read %s/%d: %w", topic, p, err)
			}
			if rec.Offset < off || rec.Offset >= to {
				continue
			}
			if err := fn(*rec); err != nil {
				return err
			}
			off = rec.Offset + 1
		}
	}
	return nil
}

func readBytes(b kafka.Bytes) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	buf := make([]byte, b.Len())
	_, err := io.ReadFull(b, buf)
	return buf, err
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
