// Package apitest checks HTTP responses of a clienting server against the
// OpenAPI document of package api, for tests.
//
// # Use
//
//	v := apitest.NewValidator(t)
//	resp, body := v.Get(t, srv.URL+"/v1/segments") // status, headers and body checked
//
// A response whose status the document does not list for the route is an
// error, as are a body that does not match the schema of its status and
// content type, and a request path the document has no route for.
package apitest
