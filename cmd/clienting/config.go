package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
	"gopkg.in/yaml.v3"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/processor"
	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/state"
)

// Config is the whole configuration file. Every key can be overridden by an
// environment variable (CLIENTING_ + the key path in upper case with dots
// as underscores, e.g. CLIENTING_KAFKA_BROKERS=a:9092,b:9092) and by
// --set key.path=value flags, in that order of precedence (flags win).
type Config struct {
	Kafka     KafkaConfig           `yaml:"kafka"`
	Redis     RedisConfig           `yaml:"redis"`
	Processor ProcessorConfig       `yaml:"processor"`
	Events    EventsConfig          `yaml:"events"`
	Dedupe    DedupeConfig          `yaml:"dedupe"`
	Scoring   scoring.Config        `yaml:"scoring"`
	Model     processor.ModelConfig `yaml:"model"`
	KPI       processor.KPIConfig   `yaml:"kpi"`
	HTTP      HTTPConfig            `yaml:"http"`
	Log       LogConfig             `yaml:"log"`
}

// KafkaConfig is the `kafka` section.
type KafkaConfig struct {
	Brokers           []string         `yaml:"brokers"`
	GroupID           string           `yaml:"group_id"`
	Topics            processor.Topics `yaml:"topics"`
	StartOffset       string           `yaml:"start_offset"`
	SessionTimeout    time.Duration    `yaml:"session_timeout"`
	HeartbeatInterval time.Duration    `yaml:"heartbeat_interval"`
	RebalanceTimeout  time.Duration    `yaml:"rebalance_timeout"`
	TLS               TLSConfig        `yaml:"tls"`
	SASL              SASLConfig       `yaml:"sasl"`
}

// TLSConfig configures TLS to Kafka or Redis.
type TLSConfig struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// SASLConfig configures SASL authentication to Kafka.
type SASLConfig struct {
	Mechanism string `yaml:"mechanism"` // "", plain, scram-sha-256, scram-sha-512
	Username  string `yaml:"username"`
	Password  string `yaml:"password"`
}

// RedisConfig is the `redis` section.
type RedisConfig struct {
	// Addrs: one address for a single Redis, several for Redis Cluster.
	Addrs    []string  `yaml:"addrs"`
	Cluster  bool      `yaml:"cluster"`
	Username string    `yaml:"username"`
	Password string    `yaml:"password"`
	DB       int       `yaml:"db"`
	PoolSize int       `yaml:"pool_size"`
	TLS      TLSConfig `yaml:"tls"`
	Prefix   string    `yaml:"prefix"`
	// IDMemory is release 1's count of remembered event ids, replaced by
	// dedupe.window and dedupe.max_ids; accepted and ignored, with a
	// warning, so that release 1's configuration files still load.
	IDMemory int `yaml:"id_memory"`
}

// DedupeConfig is the `dedupe` section: how producer duplicates are
// caught (state.Config.DedupeWindow, DedupeMaxIDs).
type DedupeConfig struct {
	Window time.Duration `yaml:"window"`
	MaxIDs int           `yaml:"max_ids"`
}

// ProcessorConfig is the `processor` section.
type ProcessorConfig struct {
	BatchSize           int           `yaml:"batch_size"`
	FetchMaxBytes       int           `yaml:"fetch_max_bytes"`
	FetchMaxWait        time.Duration `yaml:"fetch_max_wait"`
	ProduceBatchTimeout time.Duration `yaml:"produce_batch_timeout"`
	SweepInterval       time.Duration `yaml:"sweep_interval"`
	SweepLimit          int           `yaml:"sweep_limit"`
	PopulationRefresh   time.Duration `yaml:"population_refresh"`
	RetryMin            time.Duration `yaml:"retry_min"`
	RetryMax            time.Duration `yaml:"retry_max"`
	ShutdownTimeout     time.Duration `yaml:"shutdown_timeout"`
	ResponseOutcomes    []string      `yaml:"response_outcomes"`
	CacheSize           int           `yaml:"cache_size"`
	StallTimeout        time.Duration `yaml:"stall_timeout"`
	AcceptStateLoss     bool          `yaml:"accept_state_loss"`
}

// EventsConfig is the `events` section.
type EventsConfig struct {
	BaseCurrency  string            `yaml:"base_currency"`
	MinorUnits    int               `yaml:"minor_units"`
	Rates         map[string]string `yaml:"rates"`
	MaxFutureSkew time.Duration     `yaml:"max_future_skew"`
	MaxEventBytes int               `yaml:"max_event_bytes"`
}

// HTTPConfig is the `http` section.
type HTTPConfig struct {
	// Addr serves /metrics, /healthz, /readyz and the API. Default: :8080.
	Addr string `yaml:"addr"`
	// Pprof serves /debug/pprof. Default: false.
	Pprof bool `yaml:"pprof"`
}

// LogConfig is the `log` section.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error. Default: info.
	Format string `yaml:"format"` // json or text. Default: json.
}

// defaultConfig is the configuration before the file is read.
func defaultConfig() Config {
	return Config{
		Kafka:   KafkaConfig{Brokers: []string{"127.0.0.1:9092"}},
		Redis:   RedisConfig{Addrs: []string{"127.0.0.1:6379"}},
		Scoring: scoring.DefaultConfig(),
		HTTP:    HTTPConfig{Addr: ":8080"},
		Log:     LogConfig{Level: "info", Format: "json"},
	}
}

// loadConfig reads the YAML file (optional), then environment overrides,
// then --set overrides, and validates the result.
func loadConfig(path string, environ []string, sets []string) (Config, error) {
	cfg := defaultConfig()
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
	}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, "CLIENTING_") || notConfig(k) {
			continue
		}
		path, found := envPath(reflect.TypeOf(cfg), strings.TrimPrefix(k, "CLIENTING_"), "")
		if !found {
			return cfg, fmt.Errorf("config: environment %s: no such key", k)
		}
		if err := setPath(&cfg, path, v); err != nil {
			return cfg, fmt.Errorf("config: environment %s: %w", k, err)
		}
	}
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return cfg, fmt.Errorf("config: --set %q: want key.path=value", kv)
		}
		if err := setPath(&cfg, k, v); err != nil {
			return cfg, fmt.Errorf("config: --set %s: %w", k, err)
		}
	}
	return cfg, cfg.validate()
}

// validate checks every section; errors name the key.
func (c *Config) validate() error {
	var errs []error
	pc := c.processorConfig()
	if err := pc.Validate(); err != nil {
		errs = append(errs, err)
	}
	sc := c.stateConfig()
	if err := sc.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Scoring.Validate(); err != nil {
		errs = append(errs, err)
	}
	if _, err := events.NewDecoder(c.decoderConfig()); err != nil {
		errs = append(errs, err)
	}
	if len(c.Redis.Addrs) == 0 {
		errs = append(errs, errors.New("redis.addrs: at least one address is required"))
	}
	if len(c.Redis.Addrs) > 1 && !c.Redis.Cluster {
		errs = append(errs, errors.New("redis.addrs: several addresses need redis.cluster: true"))
	}
	switch strings.ToLower(c.Kafka.SASL.Mechanism) {
	case "", "plain", "scram-sha-256", "scram-sha-512":
	default:
		errs = append(errs, fmt.Errorf("kafka.sasl.mechanism: %q must be plain, scram-sha-256 or scram-sha-512", c.Kafka.SASL.Mechanism))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q must be debug, info, warn or error", c.Log.Level))
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		errs = append(errs, fmt.Errorf("log.format: %q must be json or text", c.Log.Format))
	}
	return errors.Join(errs...)
}

func (c *Config) processorConfig() processor.Config {
	k, p := c.Kafka, c.Processor
	return processor.Config{
		Brokers: k.Brokers, GroupID: k.GroupID, Topics: k.Topics, StartOffset: k.StartOffset,
		SessionTimeout: k.SessionTimeout, HeartbeatInterval: k.HeartbeatInterval, RebalanceTimeout: k.RebalanceTimeout,
		BatchSize: p.BatchSize, FetchMaxBytes: p.FetchMaxBytes, FetchMaxWait: p.FetchMaxWait,
		ProduceBatchTimeout: p.ProduceBatchTimeout, SweepInterval: p.SweepInterval, SweepLimit: p.SweepLimit,
		PopulationRefresh: p.PopulationRefresh,
		RetryMin:          p.RetryMin, RetryMax: p.RetryMax, ShutdownTimeout: p.ShutdownTimeout,
		ResponseOutcomes: p.ResponseOutcomes,
		CacheSize:        p.CacheSize, AcceptStateLoss: p.AcceptStateLoss, StallTimeout: p.StallTimeout,
		Model: c.Model,
		KPI:   c.KPI,
	}
}

func (c *Config) stateConfig() state.Config {
	return state.Config{
		Prefix: c.Redis.Prefix, DedupeWindow: c.Dedupe.Window, DedupeMaxIDs: c.Dedupe.MaxIDs,
		BucketDays: c.Scoring.BucketDays, WindowDays: c.Scoring.WindowDays,
	}
}

func (c *Config) decoderConfig() events.DecoderConfig {
	e := c.Events
	return events.DecoderConfig{
		BaseCurrency: e.BaseCurrency, MinorUnits: e.MinorUnits, Rates: e.Rates,
		MaxFutureSkew: e.MaxFutureSkew, MaxEventBytes: e.MaxEventBytes,
	}
}

// tlsConfig builds a *tls.Config, or nil when TLS is off.
func (t TLSConfig) build(key string) (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // opt-in
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s.ca_file: %w", key, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s.ca_file: %s holds no PEM certificate", key, t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s.cert_file/key_file: %w", key, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// kafkaSecurity builds the transport and dialer carrying TLS and SASL.
func (c *Config) kafkaSecurity() (*kafka.Transport, *kafka.Dialer, error) {
	tc, err := c.Kafka.TLS.build("kafka.tls")
	if err != nil {
		return nil, nil, err
	}
	var mech sasl.Mechanism
	s := c.Kafka.SASL
	switch strings.ToLower(s.Mechanism) {
	case "plain":
		mech = plain.Mechanism{Username: s.Username, Password: s.Password}
	case "scram-sha-256", "scram-sha-512":
		algo := scram.SHA256
		if strings.HasSuffix(strings.ToLower(s.Mechanism), "512") {
			algo = scram.SHA512
		}
		mech, err = scram.Mechanism(algo, s.Username, s.Password)
		if err != nil {
			return nil, nil, fmt.Errorf("kafka.sasl: %w", err)
		}
	}
	transport := &kafka.Transport{TLS: tc, SASL: mech}
	dialer := &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: tc, SASLMechanism: mech}
	return transport, dialer, nil
}

// redisClient builds the Redis client (single node or cluster).
func (c *Config) redisClient() (redis.UniversalClient, error) {
	tc, err := c.Redis.TLS.build("redis.tls")
	if err != nil {
		return nil, err
	}
	r := c.Redis
	opt := &redis.UniversalOptions{
		Addrs:           r.Addrs,
		Username:        r.Username,
		Password:        r.Password,
		DB:              r.DB,
		PoolSize:        r.PoolSize,
		TLSConfig:       tc,
		IsClusterMode:   r.Cluster,
		DisableIdentity: true,
	}
	return redis.NewUniversalClient(opt), nil
}

// notConfig reports whether k is a CLIENTING_ variable that is not
// configuration: those of the test harness (CLIENTING_TEST_*,
// CLIENTING_INTEGRATION) and those Kubernetes injects for a Service named
// clienting (CLIENTING_SERVICE_HOST, CLIENTING_PORT_8080_TCP, ...).
func notConfig(k string) bool {
	return strings.HasPrefix(k, "CLIENTING_TEST_") || k == "CLIENTING_INTEGRATION" ||
		strings.HasPrefix(k, "CLIENTING_SERVICE_") || k == "CLIENTING_PORT" || strings.HasPrefix(k, "CLIENTING_PORT_")
}

// envPath maps an environment suffix like KAFKA_SASL_PASSWORD to the key
// path kafka.sasl.password by walking the YAML tags of t.
func envPath(t reflect.Type, rest, prefix string) (string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return "", false
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := yamlName(f)
		if tag == "" {
			continue
		}
		up := strings.ToUpper(tag)
		path := tag
		if prefix != "" {
			path = prefix + "." + tag
		}
		if rest == up {
			return path, true
		}
		if strings.HasPrefix(rest, up+"_") {
			if p, ok := envPath(f.Type, rest[len(up)+1:], path); ok {
				return p, true
			}
		}
	}
	return "", false
}

func yamlName(f reflect.StructField) string {
	tag := f.Tag.Get("yaml")
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	if name == "" {
		return strings.ToLower(f.Name)
	}
	return name
}

// setPath sets the scalar, duration or list at a dotted key path.
func setPath(cfg *Config, path, value string) error {
	v := reflect.ValueOf(cfg).Elem()
	parts := strings.Split(path, ".")
	for i, part := range parts {
		if v.Kind() == reflect.Map && i == len(parts)-1 {
			if v.IsNil() {
				v.Set(reflect.MakeMap(v.Type()))
			}
			ev := reflect.New(v.Type().Elem()).Elem()
			if err := setScalar(ev, value); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			v.SetMapIndex(reflect.ValueOf(part), ev)
			return nil
		}
		if v.Kind() != reflect.Struct {
			return fmt.Errorf("%s: no such key", path)
		}
		found := false
		for j := range v.NumField() {
			if yamlName(v.Type().Field(j)) == part {
				v = v.Field(j)
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("%s: no such key", path)
		}
	}
	if err := setScalar(v, value); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func setScalar(v reflect.Value, s string) error {
	if v.Kind() == reflect.Pointer {
		n := reflect.New(v.Type().Elem())
		if err := setScalar(n.Elem(), s); err != nil {
			return err
		}
		v.Set(n)
		return nil
	}
	if v.Type() == reflect.TypeOf(time.Duration(0)) {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration (e.g. 250ms, 10s)", s)
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not a boolean", s)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		v.SetInt(n)
	case reflect.Float64, reflect.Float32:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		v.SetFloat(f)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("cannot be set from a string; use the configuration file")
		}
		var items []string
		for _, it := range strings.Split(s, ",") {
			if it = strings.TrimSpace(it); it != "" {
				items = append(items, it)
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("cannot be set from a string; use the configuration file")
	}
	return nil
}
