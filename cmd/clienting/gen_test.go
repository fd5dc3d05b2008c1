package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/internal/kafkatest"
	"github.com/clienting/clienting/internal/testenv"
)

// TestGenPublishes publishes with gen to the real Kafka and reads the
// topic back: exactly --count events, each decodable by the processor's
// decoder, keyed by customer id, a customer's events in one partition.
func TestGenPublishes(t *testing.T) {
	brokers := testenv.Kafka(t)
	topic := testenv.Unique(t, "gen")
	testenv.CreateTopics(t, brokers, 4, topic)
	freshMetadata()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var out bytes.Buffer
	err := genCmd(ctx, []string{"--brokers", strings.Join(brokers, ","), "--topic", topic,
		"--count", "500", "--rate", "0", "--customers", "300", "--seed", "11"}, &out, &out)
	require.NoError(t, err, out.String())
	t.Logf("gen:\n%s", out.String())
	require.Contains(t, out.String(), "published 500 events")

	msgs := kafkatest.ReadAll(t, brokers, topic)
	require.Len(t, msgs, 500)
	dec, err := events.NewDecoder(events.DecoderConfig{})
	require.NoError(t, err)
	ids := map[string]bool{}
	partition := map[string]int{}
	types := map[events.Type]int{}
	for _, m := range msgs {
		ev, err := dec.Decode(m.Key, m.Value, nil)
		require.NoError(t, err, "%s", m.Value)
		require.Equal(t, string(m.Key), ev.CustomerID)
		require.False(t, ids[ev.ID], "duplicate id %s", ev.ID)
		ids[ev.ID] = true
		if p, ok := partition[ev.CustomerID]; ok {
			require.Equal(t, p, m.Partition, "customer %s in two partitions", ev.CustomerID)
		}
		partition[ev.CustomerID] = m.Partition
		types[ev.Type]++
	}
	require.Positive(t, types[events.TypePurchase])
	require.Len(t, partition, countCustomers(out.String()))

	// --rate paces: 300 events at 1000/s take at least about 0.3 s
	topic2 := testenv.Unique(t, "gen-rate")
	testenv.CreateTopics(t, brokers, 1, topic2)
	freshMetadata()
	out.Reset()
	began := time.Now()
	err = genCmd(ctx, []string{"--brokers", strings.Join(brokers, ","), "--topic", topic2,
		"--count", "300", "--rate", "1000", "--customers", "100"}, &out, &out)
	require.NoError(t, err, out.String())
	require.GreaterOrEqual(t, time.Since(began), 250*time.Millisecond)
	require.Len(t, kafkatest.ReadAll(t, brokers, topic2), 300)
}

// freshMetadata drops what kafka-go's shared default transport knows about
// the cluster. kafkatest's clients use that transport, which caches topic
// metadata for 6 s: a topic created after an earlier test's call would be
// "unknown" to them for that long.
func freshMetadata() {
	kafka.DefaultTransport.(*kafka.Transport).CloseIdleConnections()
}

// countCustomers reads "published N events of C customers" from gen's summary.
func countCustomers(s string) int {
	m := regexp.MustCompile(`published \d+ events of (\d+) customers`).FindStringSubmatch(s)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestGenFlags(t *testing.T) {
	ctx := context.Background()
	for _, args := range [][]string{
		{"--count", "0"}, {"--rate", "-1"}, {"--customers", "0"}, {"--span", "0d"}, {"--currency", "usd"},
		{"--start", "yesterday"}, {"--brokers", ","}, {"extra"},
	} {
		var out bytes.Buffer
		err := genCmd(ctx, args, &out, &out)
		require.Error(t, err, "%q", args)
	}
}
