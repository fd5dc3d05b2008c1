package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clienting/clienting/processor"
	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/scoring/clv"
	"github.com/clienting/clienting/state"
)

func fitCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: clienting fit --file FILE [--format F] [--end DATE] [--unit 168h]
       clienting fit --redis [--config FILE] [--set key=value] [--save]

Fits the BG/NBD (churn) and Gamma-Gamma (spend) models by maximum likelihood and
prints the parameters and log-likelihoods. From a transaction file, or from every
customer in Redis (with --save the result becomes the model every instance uses).`)
		fs.PrintDefaults()
	}
	file := fs.String("file", "", "transaction `file`: CDNOW master or sample, CSV (customer_id,time,amount) or JSON lines of purchase events")
	format := fs.String("format", "", "file `format`: cdnow-master, cdnow-sample, csv or jsonl (default: from the extension)")
	endFlag := fs.String("end", "", "end of the calibration period: a `date` (YYYY-MM-DD, inclusive) or RFC 3339 time; default: the latest transaction's day")
	fromRedis := fs.Bool("redis", false, "fit every customer in the configured Redis")
	save := fs.Bool("save", false, "with --redis: store the fit as the current model")
	asJSON := fs.Bool("json", false, "print the model as JSON")
	cfgPath := fs.String("config", "", "configuration `file` (with --redis)")
	var sets multiFlag
	fs.Var(&sets, "set", "override a configuration `key=value` (repeatable)")
	unit := fs.Duration("unit", 0, "model time `unit` (default: model.time_unit, 168h)")
	penalizer := fs.Float64("penalizer", -1, "L2 penalty on the parameters (default: model.penalizer, 0)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, os.Environ(), sets)
	if err != nil {
		return err
	}
	mc := cfg.Model
	if *unit > 0 {
		mc.TimeUnit = *unit
	}
	if *penalizer >= 0 {
		mc.Penalizer = *penalizer
	}
	pc := cfg.processorConfig()
	pc.Model = mc
	if err := pc.Validate(); err != nil {
		return err
	}
	mc = pc.Model

	var model *scoring.Model
	switch {
	case *fromRedis && *file != "":
		return errors.New("fit: give --file or --redis, not both")
	case *fromRedis:
		rdb, err := cfg.redisClient()
		if err != nil {
			return err
		}
		defer rdb.Close()
		store, err := state.New(rdb, cfg.stateConfig())
		if err != nil {
			return err
		}
		engine, err := scoring.NewEngine(cfg.Scoring)
		if err != nil {
			return err
		}
		if model, err = processor.FitStore(ctx, store, engine, mc, time.Now().UTC()); err != nil {
			return err
		}
		if *save {
			if err := store.SaveModel(ctx, model); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "saved as %s\n", store.ModelKey())
		}
	case *file != "":
		if model, err = fitFile(*file, *format, *endFlag, mc); err != nil {
			return err
		}
	default:
		fs.Usage()
		return errors.New("fit: give --file or --redis")
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(model)
	}
	printModel(stdout, model)
	return nil
}

func fitFile(path, format, end string, mc processor.ModelConfig) (*scoring.Model, error) {
	f, err := parseFormat(path, format)
	if err != nil {
		return nil, err
	}
	in, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("fit: %w", err)
	}
	defer in.Close()
	txs, err := clv.ReadTransactions(in, f)
	if err != nil {
		return nil, fmt.Errorf("fit: %s: %w", path, err)
	}
	if len(txs) == 0 {
		return nil, fmt.Errorf("fit: %s: no transactions", path)
	}
	endTime, err := parseEnd(end, txs)
	if err != nil {
		return nil, err
	}
	data := clv.Summarize(txs, endTime, mc.TimeUnit)
	params, err := clv.Fit(data, clv.FitOptions{TimeUnit: mc.TimeUnit, Penalizer: mc.Penalizer,
		MinCustomers: mc.MinCustomers, Now: endTime})
	if err != nil {
		return nil, fmt.Errorf("fit: %w", err)
	}
	return &scoring.Model{Params: params, Value: "money"}, nil
}

func parseFormat(path, format string) (clv.Format, error) {
	if format == "" {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".csv":
			format = "csv"
		case ".jsonl", ".ndjson", ".json":
			format = "jsonl"
		case ".txt":
			format = "cdnow-master"
		default:
			return 0, fmt.Errorf("fit: --format: cannot tell the format of %s; give cdnow-master, cdnow-sample, csv or jsonl", path)
		}
	}
	for _, f := range []clv.Format{clv.FormatCDNOWMaster, clv.FormatCDNOWSample, clv.FormatCSV, clv.FormatJSONLines} {
		if f.String() == format {
			return f, nil
		}
	}
	return 0, fmt.Errorf("fit: --format: %q must be cdnow-master, cdnow-sample, csv or jsonl", format)
}

// parseEnd reads --end. Summaries count in whole UTC days, so a date is
// inclusive: transactions on that day count and ages run to its start, the
// convention of Fader, Hardie & Lee (2005) for CDNOW. Without --end the
// period ends on the day of the latest transaction.
func parseEnd(s string, txs []clv.Transaction) (time.Time, error) {
	if s == "" {
		var last time.Time
		for _, t := range txs {
			if t.Time.After(last) {
				last = t.Time
			}
		}
		return last.UTC().Truncate(24 * time.Hour), nil
	}
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return d, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("fit: --end: %q is neither YYYY-MM-DD nor RFC 3339", s)
	}
	return t, nil
}

func printModel(w io.Writer, m *scoring.Model) {
	fmt.Fprintf(w, "customers     %d\n", m.N)
	fmt.Fprintf(w, "time unit     %s\n", m.TimeUnit)
	fmt.Fprintf(w, "BG/NBD        r=%.4f alpha=%.4f a=%.4f b=%.4f\n", m.BGNBD.R, m.BGNBD.Alpha, m.BGNBD.A, m.BGNBD.B)
	fmt.Fprintf(w, "  log-lik     %.2f\n", m.LogLik)
	if m.HasGG {
		fmt.Fprintf(w, "Gamma-Gamma   p=%.4f q=%.4f gamma=%.4f (on %s)\n", m.GammaGamma.P, m.GammaGamma.Q, m.GammaGamma.Gamma, m.Value)
		fmt.Fprintf(w, "  log-lik     %.2f\n", m.GGLogLik)
	} else {
		fmt.Fprintln(w, "Gamma-Gamma   not fitted (too few repeat buyers, or q <= 1)")
	}
	fmt.Fprintf(w, "fitted at     %s\n", m.FittedAt.Format(time.RFC3339))
	fmt.Fprintf(w, "version       %s\n", m.Version)
}
