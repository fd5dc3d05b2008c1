package testenv

// Containers stand in for the harness on a developer machine that has a
// Docker engine but did not run `make up`.
//
// This path is compiled and vetted, but it has never been run: the machines
// this project is built and tested on (developers' and CI) have no Docker
// engine, so there `make test` and scripts/harness.sh provide the servers.
// Expect to debug it the first time it meets a real engine.
//
// One Redis and one Kafka container are started per test binary, on first
// use, and shared by all its tests. Nothing here stops them: testcontainers'
// reaper (Ryuk, a container of its own) removes them when the test binary
// exits. With TESTCONTAINERS_RYUK_DISABLED=true they are left running.

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"
	"github.com/testcontainers/testcontainers-go/wait"
)

const (
	// Redis 7.0, the version Debian 12 ships and the harness runs.
	redisImage = "redis:7.0"
	// The broker version that scripts/kafka-fetch.sh assembles.
	kafkaImage = "apache/kafka:4.4.0"
	// Pulling an image can take a while on a first run.
	containerStartTimeout = 5 * time.Minute
)

var (
	dockerAvailable = sync.OnceValue(probeDocker)
	redisContainer  = sync.OnceValues(startRedis)
	kafkaContainer  = sync.OnceValues(startKafka)
)

// probeDocker reports whether a Docker engine answers. It does not check
// that images can be pulled: with an engine but no registry, starting the
// containers fails and so does the test, with the pull error.
func probeDocker() (ok bool) {
	// Older testcontainers versions panicked when no Docker host could be
	// found; treat that as "no engine" too.
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	provider, err := testcontainers.NewDockerProvider()
	if err != nil {
		return false
	}
	defer provider.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return provider.Health(ctx) == nil
}

func startRedis() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), containerStartTimeout)
	defer cancel()
	c, err := tcredis.Run(ctx, redisImage)
	if err != nil {
		_ = testcontainers.TerminateContainer(c)
		return "", fmt.Errorf("run %s: %w", redisImage, err)
	}
	addr, err := c.PortEndpoint(ctx, "6379/tcp", "")
	if err != nil {
		_ = testcontainers.TerminateContainer(c)
		return "", fmt.Errorf("redis endpoint: %w", err)
	}
	return addr, nil
}

// startKafka runs the official apache/kafka image as a single KRaft node,
// configured like scripts/harness.sh configures its broker.
//
// The broker must advertise the address clients reach it at, which is the
// host port Docker maps to 9092 and is only known once the container runs.
// So the container starts a shell that waits for a start script, and a
// post-start hook writes that script with KAFKA_ADVERTISED_LISTENERS set
// before handing over to the image's own launcher. This is the trick of
// testcontainers' kafka module; the module itself is not used because
// v0.45.0 is not served by the Go module proxy and the version that is
// (v0.40.0) only runs confluentinc images.
func startKafka() ([]string, error) {
	const (
		port        = "9092/tcp"
		startScript = "/tmp/testenv-start.sh"
	)
	ctx, cancel := context.WithTimeout(context.Background(), containerStartTimeout)
	defer cancel()

	c, err := testcontainers.Run(ctx, kafkaImage,
		testcontainers.WithExposedPorts(port),
		testcontainers.WithEnv(map[string]string{
			"CLUSTER_ID":                                             "4L6g3nShT-eMCtK--X86sw",
			"KAFKA_NODE_ID":                                          "1",
			"KAFKA_PROCESS_ROLES":                                    "broker,controller",
			"KAFKA_LISTENERS":                                        "PLAINTEXT://0.0.0.0:9092,BROKER://0.0.0.0:9093,CONTROLLER://0.0.0.0:9094",
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":                   "PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT",
			"KAFKA_INTER_BROKER_LISTENER_NAME":                       "BROKER",
			"KAFKA_CONTROLLER_LISTENER_NAMES":                        "CONTROLLER",
			"KAFKA_CONTROLLER_QUORUM_VOTERS":                         "1@localhost:9094",
			"KAFKA_NUM_PARTITIONS":                                   "4",
			"KAFKA_DEFAULT_REPLICATION_FACTOR":                       "1",
			"KAFKA_MIN_INSYNC_REPLICAS":                              "1",
			"KAFKA_AUTO_CREATE_TOPICS_ENABLE":                        "false",
			"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":                 "1",
			"KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS":                     "1",
			"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR":         "1",
			"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":                    "1",
			"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
			"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR":            "1",
			"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS":                 "0",
		}),
		testcontainers.WithEntrypoint("sh"),
		testcontainers.WithCmd("-c", "while [ ! -f "+startScript+" ]; do sleep 0.1; done; exec sh "+startScript),
		testcontainers.WithLifecycleHooks(testcontainers.ContainerLifecycleHooks{
			PostStarts: []testcontainers.ContainerHook{
				func(ctx context.Context, c testcontainers.Container) error {
					if err := wait.ForMappedPort(port).WaitUntilReady(ctx, c); err != nil {
						return fmt.Errorf("wait for mapped port: %w", err)
					}
					endpoint, err := c.PortEndpoint(ctx, port, "")
					if err != nil {
						return fmt.Errorf("kafka endpoint: %w", err)
					}
					script := "export KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://" + endpoint + ",BROKER://localhost:9093\n" +
						"exec /etc/kafka/docker/run\n"
					if err := c.CopyToContainer(ctx, []byte(script), startScript, 0o755); err != nil {
						return fmt.Errorf("copy start script: %w", err)
					}
					return wait.ForLog("Kafka Server started").WaitUntilReady(ctx, c)
				},
			},
		}),
	)
	if err != nil {
		_ = testcontainers.TerminateContainer(c)
		return nil, fmt.Errorf("run %s: %w", kafkaImage, err)
	}
	endpoint, err := c.PortEndpoint(ctx, port, "")
	if err != nil {
		_ = testcontainers.TerminateContainer(c)
		return nil, fmt.Errorf("kafka endpoint: %w", err)
	}
	return []string{endpoint}, nil
}
