package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/clienting/clienting/processor"
)

// Currency is the base currency money is kept in: pass the events
// decoder's BaseCurrency and MinorUnits. The zero Currency is USD in cents.
type Currency struct {
	// Code is the ISO 4217 code.
	Code string
	// MinorUnits is the number of decimal places of the minor unit amounts
	// are kept in, 0..18 (2 for USD and EUR, 0 for JPY).
	MinorUnits int
}

// API serves the /v1 endpoints from a processor's store, engine and
// snapshots. It is safe for concurrent use.
type API struct {
	p        *processor.Processor
	log      *slog.Logger
	currency Currency
}

// New returns an API reading from p, formatting money in currency. A nil
// log discards.
func New(p *processor.Processor, log *slog.Logger, currency Currency) *API {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if currency.Code == "" {
		currency = Currency{Code: "USD", MinorUnits: 2}
	}
	currency.MinorUnits = min(max(currency.MinorUnits, 0), 18)
	return &API{p: p, log: log, currency: currency}
}

// Register adds the /v1 endpoints to mux. Every other path under /v1/ gets
// a JSON 404, and a method other than GET or HEAD a JSON 405.
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle("GET /v1/customers/{id...}", a.guard(a.customer))
	mux.Handle("GET /v1/segments", a.guard(a.segments))
	mux.Handle("GET /v1/kpis", a.guard(a.kpis))
	mux.Handle("GET /v1/openapi.yaml", a.guard(serveOpenAPI))
	mux.Handle("/v1/", a.guard(notFound))
}

// guard turns a panic of h into a logged 500 instead of a dropped
// connection.
func (a *API) guard(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				a.log.Error("API handler panicked", "method", r.Method, "path", r.URL.EscapedPath(), "panic", fmt.Sprint(v))
				writeError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		h(w, r)
	})
}

func notFound(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed; the API is read-only (GET, HEAD)", r.Method))
		return
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint at %s; see /v1/openapi.yaml", r.URL.EscapedPath()))
}

// errorBody is the body of every error response.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

// writeJSON writes v as JSON with status. A value that does not encode (a
// non-finite float) becomes a 500.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		buf.Reset()
		status = http.StatusInternalServerError
		_ = enc.Encode(errorBody{Error: "encode response: " + err.Error()})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
