package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "clienting.yaml")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	return p
}

func TestLoadConfigPrecedence(t *testing.T) {
	path := writeFile(t, `
kafka:
  brokers: [file:9092]
  group_id: from-file
redis:
  addrs: [file:6379]
processor:
  batch_size: 10
events:
  rates: {EUR: "1.08"}
`)
	cfg, err := loadConfig(path,
		[]string{"CLIENTING_KAFKA_GROUP_ID=from-env", "CLIENTING_PROCESSOR_SWEEP_INTERVAL=3s",
			"CLIENTING_KAFKA_SASL_PASSWORD=secret", "PATH=/bin", "CLIENTING_SERVICE_HOST=10.0.0.1",
			"CLIENTING_PORT_8080_TCP=tcp://10.0.0.1:8080"},
		[]string{"kafka.brokers=a:1,b:2", "processor.batch_size=20", "events.rates.GBP=1.27"})
	require.NoError(t, err)
	require.Equal(t, []string{"a:1", "b:2"}, cfg.Kafka.Brokers, "--set wins over the file")
	require.Equal(t, "from-env", cfg.Kafka.GroupID, "environment wins over the file")
	require.Equal(t, 3*time.Second, cfg.Processor.SweepInterval)
	require.Equal(t, "secret", cfg.Kafka.SASL.Password)
	require.Equal(t, 20, cfg.Processor.BatchSize)
	require.Equal(t, map[string]string{"EUR": "1.08", "GBP": "1.27"}, cfg.Events.Rates)
	require.Equal(t, []string{"file:6379"}, cfg.Redis.Addrs)
}

func TestLoadConfigErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		env  []string
		sets []string
		want string
	}{
		{name: "unknown file key", file: "kafka:\n  brokerz: [a:1]\n", want: "brokerz"},
		{name: "unknown env key", env: []string{"CLIENTING_KAFKA_BROKERZ=a:1"}, want: "CLIENTING_KAFKA_BROKERZ"},
		{name: "unknown set key", sets: []string{"kafka.nope=1"}, want: "kafka.nope"},
		{name: "bad duration", sets: []string{"processor.sweep_interval=soon"}, want: "processor.sweep_interval"},
		{name: "bad integer", env: []string{"CLIENTING_PROCESSOR_BATCH_SIZE=many"}, want: "CLIENTING_PROCESSOR_BATCH_SIZE"},
		{name: "negative batch", sets: []string{"processor.batch_size=-1"}, want: "processor.batch_size"},
		{name: "broker without port", sets: []string{"kafka.brokers=localhost"}, want: "kafka.brokers[0]"},
		{name: "sasl mechanism", sets: []string{"kafka.sasl.mechanism=kerberos"}, want: "kafka.sasl.mechanism"},
		{name: "log level", sets: []string{"log.level=loud"}, want: "log.level"},
		{name: "same topic twice", sets: []string{"kafka.topics.churn_risk=customer.segment-changes"}, want: "kafka.topics.churn_risk"},
		{name: "cluster addrs", sets: []string{"redis.addrs=a:1,b:2"}, want: "redis.cluster"},
		{name: "bad rate", sets: []string{"events.rates.EUR=abc"}, want: "EUR"},
		{name: "bad start offset", sets: []string{"kafka.start_offset=middle"}, want: "kafka.start_offset"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = writeFile(t, tc.file)
			}
			_, err := loadConfig(path, tc.env, tc.sets)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestDefaultConfigIsValid(t *testing.T) {
	cfg, err := loadConfig("", nil, nil)
	require.NoError(t, err)
	require.Equal(t, ":8080", cfg.HTTP.Addr)
	require.NotEmpty(t, cfg.Scoring.Segmentations)
}

// TestShippedConfigsLoad: the configuration in the Kubernetes ConfigMap is
// accepted by the loader (with the secrets the Deployment injects).
func TestShippedConfigsLoad(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/kubernetes/configmap.yaml")
	require.NoError(t, err)
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &cm))
	text, ok := cm.Data["clienting.yaml"]
	require.True(t, ok, "the ConfigMap has no clienting.yaml")
	_, err = loadConfig(writeFile(t, text), []string{"CLIENTING_REDIS_PASSWORD=x", "CLIENTING_SERVICE_HOST=10.0.0.1"}, nil)
	require.NoError(t, err)
}
