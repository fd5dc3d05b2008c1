package api_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/api"
	"github.com/clienting/clienting/api/apitest"
	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/processor"
	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/state"
)

// newOffline returns a server over a processor that was never run and
// whose Redis does not answer: every answer is an error or a 503, which is
// what these tests look at. The answers with data are checked against real
// servers in cmd/clienting (TestAPI).
func newOffline(t *testing.T) *httptest.Server {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DisableIdentity: true})
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := state.New(rdb, state.Config{Prefix: "api-test"})
	require.NoError(t, err)
	dec, err := events.NewDecoder(events.DecoderConfig{})
	require.NoError(t, err)
	engine, err := scoring.NewEngine(scoring.DefaultConfig())
	require.NoError(t, err)
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	p, err := processor.New(processor.Config{Brokers: []string{"127.0.0.1:1"}, Logger: log}, store, dec, engine, nil)
	require.NoError(t, err)
	mux := http.NewServeMux()
	api.New(p, log, api.Currency{Code: dec.BaseCurrency(), MinorUnits: dec.MinorUnits()}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestAPIErrors checks the answers that need no data: bad ids, a store that
// does not answer, no population or KPIs yet, unknown paths and methods.
// Every one is JSON and matches the document where it has a route.
func TestAPIErrors(t *testing.T) {
	srv := newOffline(t)
	v := apitest.NewValidator(t)
	for _, tc := range []struct {
		name, path string
		status     int
		contains   string
		noRoute    bool // the document has no route for the path
	}{
		{"id too long", "/v1/customers/" + strings.Repeat("x", 257), 400, "257 bytes", false},
		{"id too long multibyte", "/v1/customers/" + url.PathEscape(strings.Repeat("ü", 129)), 400, "258 bytes", false},
		{"id not UTF-8", "/v1/customers/a%FFb", 400, "not valid UTF-8", false},
		{"id empty", "/v1/customers/", 400, "empty", true},
		{"store down", "/v1/customers/" + url.PathEscape("a/b {c} ü"), 503, "unavailable", false},
		{"longest id store down", "/v1/customers/" + strings.Repeat("x", 256), 503, "unavailable", false},
		{"no population yet", "/v1/segments", 503, "population_refresh", false},
		{"no KPIs yet", "/v1/kpis", 503, "kpi.interval", false},
		{"unknown endpoint", "/v1/nope", 404, "no endpoint", true},
		// ServeMux redirects /v1/customers to /v1/customers/
		{"customers without slash", "/v1/customers", 400, "empty", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var resp *http.Response
			var body []byte
			if tc.noRoute {
				resp, body = get(t, srv.URL+tc.path)
			} else {
				resp, body = v.Get(t, srv.URL+tc.path)
			}
			require.Equal(t, tc.status, resp.StatusCode, "%s", body)
			require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			require.Regexp(t, `^\{"error":".*`+tc.contains+`.*"\}\n$`, string(body))
		})
	}

	t.Run("method not allowed", func(t *testing.T) {
		for _, path := range []string{"/v1/segments", "/v1/customers/x", "/v1/nope"} {
			resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader("{}"))
			require.NoError(t, err)
			_ = resp.Body.Close()
			require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, path)
			require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			require.Equal(t, "GET, HEAD", resp.Header.Get("Allow"))
		}
	})

	t.Run("openapi.yaml", func(t *testing.T) {
		resp, body := v.Get(t, srv.URL+"/v1/openapi.yaml")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "application/yaml", resp.Header.Get("Content-Type"))
		require.Equal(t, api.OpenAPI(), body)
	})
}

func get(t *testing.T, u string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}
