package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/clienting/clienting/api"
	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/processor"
	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/state"
)

// app is the wired processor with its HTTP endpoints. run and demo share it.
type app struct {
	cfg     Config
	log     *slog.Logger
	reg     *prometheus.Registry
	rdb     redis.UniversalClient
	store   *state.Store
	decoder *events.Decoder
	engine  *scoring.Engine
	proc    *processor.Processor

	// listener, when set, serves HTTP instead of cfg.HTTP.Addr (tests, demo).
	listener net.Listener
}

type appOptions struct {
	now func() time.Time
	rdb redis.UniversalClient // when set, used instead of building one from cfg
}

func newApp(cfg Config, log *slog.Logger, opts appOptions) (*app, error) {
	a := &app{cfg: cfg, log: log, reg: prometheus.NewRegistry()}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "clienting", Name: "build_info",
		Help:        "Build information; the value is always 1.",
		ConstLabels: prometheus.Labels{"version": buildVersion(), "goversion": runtime.Version()},
	})
	info.Set(1)
	for _, c := range []prometheus.Collector{info, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := a.reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	var err error
	if a.rdb = opts.rdb; a.rdb == nil {
		if a.rdb, err = cfg.redisClient(); err != nil {
			return nil, err
		}
	}
	if a.store, err = state.New(a.rdb, cfg.stateConfig()); err != nil {
		return nil, err
	}
	if cfg.Redis.IDMemory != 0 {
		a.log.Warn("redis.id_memory is ignored: duplicates are now caught by event time, see dedupe.window and dedupe.max_ids")
	}
	dc := cfg.decoderConfig()
	dc.Now = opts.now
	if a.decoder, err = events.NewDecoder(dc); err != nil {
		return nil, err
	}
	if a.engine, err = scoring.NewEngine(cfg.Scoring); err != nil {
		return nil, err
	}
	m, err := processor.NewMetrics(a.reg)
	if err != nil {
		return nil, err
	}
	pc := cfg.processorConfig()
	pc.Now = opts.now
	pc.Logger = log
	if pc.Transport, pc.Dialer, err = cfg.kafkaSecurity(); err != nil {
		return nil, err
	}
	if a.proc, err = processor.New(pc, a.store, a.decoder, a.engine, m); err != nil {
		return nil, err
	}
	return a, nil
}

// run serves HTTP and runs the processor until ctx ends, then shuts both
// down: the processor finishes and commits its batches, the HTTP server
// drains its requests.
func (a *app) run(ctx context.Context) error {
	defer func() {
		if err := a.rdb.Close(); err != nil {
			a.log.Warn("close redis client", "err", err)
		}
	}()
	srv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 10 * time.Second}
	ln := a.listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", a.cfg.HTTP.Addr); err != nil {
			return fmt.Errorf("http.addr: %w", err)
		}
	}
	a.log.Info("serving HTTP", "addr", ln.Addr().String())
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	g.Go(func() error {
		defer a.log.Info("processor stopped")
		return a.proc.Run(gctx)
	})
	return g.Wait()
}

func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := a.store.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, "redis: %v\n", err)
			return
		}
		if reason := a.proc.NotReady(); reason != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, reason+"\n")
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	api.New(a.proc, a.log, api.Currency{Code: a.decoder.BaseCurrency(), MinorUnits: a.decoder.MinorUnits()}).Register(mux)
	if a.cfg.HTTP.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}
