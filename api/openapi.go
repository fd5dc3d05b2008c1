package api

import (
	_ "embed"
	"net/http"
)

//go:embed openapi.yaml
var openapiYAML []byte

// OpenAPI returns the OpenAPI 3.0 document of the HTTP server: the /v1
// endpoints and /metrics, /healthz and /readyz.
func OpenAPI() []byte { return append([]byte(nil), openapiYAML...) }

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/yaml")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(openapiYAML)
}
