package api_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/api"
)

// TestOpenAPIDocument loads and validates the embedded document and checks
// that it describes every endpoint of the HTTP server.
func TestOpenAPIDocument(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	require.NoError(t, err)
	require.NoError(t, doc.Validate(ctx))
	require.Equal(t, "3.0.3", doc.OpenAPI)

	want := []string{"/healthz", "/metrics", "/readyz", "/v1/customers/{id}", "/v1/kpis", "/v1/openapi.yaml", "/v1/segments"}
	got := doc.Paths.InMatchingOrder()
	slices.Sort(got)
	require.Equal(t, want, got)
	for _, p := range got {
		op := doc.Paths.Value(p).Get
		require.NotNil(t, op, "%s has no GET operation", p)
		require.NotNil(t, op.Responses.Status(200), "%s documents no 200 response", p)
	}
}
