package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"
)

func runCmd(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "YAML configuration `file` (optional; defaults, environment and --set apply)")
	var sets multiFlag
	fs.Var(&sets, "set", "override a configuration `key=value`, e.g. --set kafka.brokers=host:9092 (repeatable)")
	frozen := fs.String("now", "", "evaluate as if the time were this RFC 3339 `instant`, frozen (for replays of history and tests)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, os.Environ(), sets)
	if err != nil {
		return err
	}
	var opts appOptions
	if *frozen != "" {
		t, err := time.Parse(time.RFC3339, *frozen)
		if err != nil {
			return fmt.Errorf("--now: %q is not an RFC 3339 time", *frozen)
		}
		opts.now = func() time.Time { return t }
	}
	log := newLogger(cfg.Log, stderr)
	a, err := newApp(cfg, log, opts)
	if err != nil {
		return err
	}
	pc := cfg.processorConfig()
	_ = pc.Validate() // fills the defaults; loadConfig validated it already
	log.Info("starting clienting", "version", buildVersion(), "brokers", pc.Brokers,
		"inputs", pc.Topics.Input, "group", pc.GroupID, "scoring_version", a.engine.Version())
	return a.run(ctx)
}

func newLogger(c LogConfig, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
