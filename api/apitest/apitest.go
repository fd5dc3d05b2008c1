package apitest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/clienting/clienting/api"
)

// Load parses and validates the embedded OpenAPI document.
func Load(ctx context.Context) (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("load openapi.yaml: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("validate openapi.yaml: %w", err)
	}
	return doc, nil
}

// Validator checks responses against the document.
type Validator struct {
	Doc    *openapi3.T
	router routers.Router
	client *http.Client
}

// NewValidator loads the document and fails tb if it does not validate.
func NewValidator(tb testing.TB) *Validator {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	doc, err := Load(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		tb.Fatalf("openapi router: %v", err)
	}
	return &Validator{Doc: doc, router: router, client: &http.Client{
		Timeout: 30 * time.Second,
		// a redirect is a response of its own, to be checked
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Validate checks a response to req: its status must be documented for
// the route, its Content-Type must be one the document lists for it, and
// its body must match that content's schema.
func (v *Validator) Validate(ctx context.Context, req *http.Request, status int, header http.Header, body []byte) error {
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("%s %s: no route in openapi.yaml: %w", req.Method, req.URL.EscapedPath(), err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, in); err != nil {
		return fmt.Errorf("%s %s: response %d does not match openapi.yaml: %w\nbody: %s", req.Method, req.URL.EscapedPath(), status, err, clip(body))
	}
	return nil
}

// Get requests url (already percent-encoded), validates the response and
// returns it with its body read.
func (v *Validator) Get(tb testing.TB, url string) (*http.Response, []byte) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	resp, err := v.client.Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		tb.Fatalf("GET %s: read body: %v", url, err)
	}
	if err := v.Validate(ctx, req, resp.StatusCode, resp.Header, body); err != nil {
		tb.Error(err)
	}
	return resp, body
}

func clip(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "..."
	}
	return string(b)
}
