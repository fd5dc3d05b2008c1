package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/segmentio/kafka-go"
)

// topicsCmd creates the topics the configuration names: the input topics,
// their dead-letter topics and the three output topics.
func topicsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("topics", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration `file` (kafka.brokers, kafka.topics.*, kafka.tls, kafka.sasl)")
	var sets multiFlag
	fs.Var(&sets, "set", "override a configuration `key=value` (repeatable)")
	partitions := fs.Int("partitions", 12, "partitions of each new topic (the input's bound the instances that can share the work)")
	replication := fs.Int("replication-factor", 1, "replicas of each new topic (3 in production)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *partitions < 1 || *replication < 1 {
		return errors.New("topics: --partitions and --replication-factor must be at least 1")
	}
	cfg, err := loadConfig(*cfgPath, os.Environ(), sets)
	if err != nil {
		return err
	}
	pc := cfg.processorConfig()
	if err := pc.Validate(); err != nil {
		return err
	}
	transport, _, err := cfg.kafkaSecurity()
	if err != nil {
		return err
	}
	var names []string
	for _, in := range pc.Topics.Input {
		names = append(names, in, in+pc.Topics.DeadLetterSuffix)
	}
	names = append(names, pc.Topics.SegmentChanges, pc.Topics.ChurnRisk, pc.Topics.Recovery)
	req := &kafka.CreateTopicsRequest{Addr: kafka.TCP(pc.Brokers...)}
	for _, n := range names {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: n, NumPartitions: *partitions, ReplicationFactor: *replication})
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := &kafka.Client{Addr: req.Addr, Transport: transport}
	res, err := client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("topics: %w", err)
	}
	var errs []error
	for _, n := range names {
		switch e := res.Errors[n]; {
		case e == nil:
			fmt.Fprintf(stdout, "created  %s (%d partitions, replication factor %d)\n", n, *partitions, *replication)
		case errors.Is(e, kafka.TopicAlreadyExists):
			fmt.Fprintf(stdout, "exists   %s\n", n)
		default:
			errs = append(errs, fmt.Errorf("topics: %s: %w", n, e))
		}
	}
	return errors.Join(errs...)
}
