// Package api serves clienting's read-only HTTP API under /v1: one
// customer's state and scores as evaluated now, the customers per segment,
// and the business KPIs. It reads what the processor keeps (the store, the
// population snapshot and the KPIs); it never changes state.
//
// # Endpoints
//
//	GET /v1/customers/{id}  one customer: state, metrics, scores, profiles,
//	                        segments evaluated now, what was last published,
//	                        churn risk and value, hold-out flag, next due time
//	GET /v1/segments        customers per segment of every segmentation and
//	                        per churn-risk level, from the last population read
//	GET /v1/kpis            the KPIs last computed (retention, churn, growth,
//	                        Pareto)
//	GET /v1/openapi.yaml    the OpenAPI 3.0 document of the whole HTTP server
//	                        (these endpoints and /metrics, /healthz, /readyz)
//
// The document is embedded in the binary ([OpenAPI]) and the tests validate
// every response of a running server against it.
//
// # Customer ids
//
// A customer id is 1..256 bytes of UTF-8 and may hold any character,
// slashes, spaces and braces included. Clients percent-encode it as one path
// segment (url.PathEscape in Go, encodeURIComponent in JavaScript):
// "a/b" is /v1/customers/a%2Fb and "{x} y" is /v1/customers/%7Bx%7D%20y.
// The server decodes the escaped path once, so an unencoded slash also
// works, but a path with an empty, "." or ".." segment is redirected to its
// cleaned form by net/http before it gets here; encode to be safe. An empty
// id, one longer than 256 bytes or one that is not UTF-8 is a 400.
//
// # Money
//
// Amounts in the customer's state and its CLV are exact decimal strings in
// the base currency ("123.45"), with the currency code beside them, as in
// the output events. The metrics object holds money as numbers in major
// units, as the segmentation rules see it.
//
// # Errors
//
// Every error is JSON, {"error": "..."}, with the status saying what went
// wrong: 400 for a bad customer id, 404 for an unknown customer or path, 405
// for a method other than GET or HEAD, 503 while the population or the KPIs
// have not been read yet or Redis does not answer (retry later), 500 for
// anything else.
package api
