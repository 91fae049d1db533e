package openapitest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/oauthbroker/broker/docs"
)

// maxChecked is the largest body validated; bigger answers (streamed
// downloads through the proxy) are not buffered for it.
const maxChecked = 1 << 20

var load = sync.OnceValues(func() (*v3.Document, error) {
	doc, err := libopenapi.NewDocument(docs.OpenAPI)
	if err != nil {
		return nil, err
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		return nil, err
	}
	return &m.Model, nil
})

// Model is docs/openapi.yaml, parsed.
func Model(t testing.TB) *v3.Document {
	t.Helper()
	m, err := load()
	if err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	return m
}

// Validator validates against docs/openapi.yaml, formats (date-time, uri)
// included.
func Validator(t testing.TB) validator.Validator {
	t.Helper()
	return validator.NewValidatorFromV3Model(Model(t), config.WithFormatAssertions())
}

// Wrap serves h and validates each answer against the spec; a mismatch
// fails t when the test ends, naming the request and what is wrong. An
// answer to a path the spec does not have is left to the route test
// (TestOpenAPICoversEveryRoute), which names it once.
func Wrap(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	v := Validator(t)
	var mu sync.Mutex
	var problems []string
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range problems {
			t.Errorf("docs/openapi.yaml: %s", p)
		}
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		if rec.overflow {
			return
		}
		resp := &http.Response{StatusCode: rec.status, Header: w.Header().Clone(), Body: http.NoBody, Request: r}
		resp.Body = readCloser{bytes.NewReader(rec.body.Bytes())}
		req := httptest.NewRequest(r.Method, r.URL.RequestURI(), nil)
		req.Header = r.Header.Clone()
		if ok, errs := v.ValidateHttpResponse(req, resp); !ok {
			for _, e := range errs {
				if unknownPath(e.ValidationType, e.Message) {
					continue
				}
				msg := fmt.Sprintf("%s %s → %d: %s", r.Method, r.URL.Path, rec.status, e.Message)
				if e.Reason != "" {
					msg += " (" + e.Reason + ")"
				}
				for _, f := range e.SchemaValidationErrors {
					msg += "; " + f.Reason + " at " + f.FieldPath
				}
				mu.Lock()
				problems = append(problems, msg)
				mu.Unlock()
			}
		}
	})
}

// unknownPath: the spec has no such path or method (a 404 of the router).
func unknownPath(typ, msg string) bool {
	return typ == "path" || strings.Contains(msg, "not found") && strings.Contains(strings.ToLower(msg), "path")
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// recorder passes every write through and keeps a copy of the body up to
// maxChecked.
type recorder struct {
	http.ResponseWriter
	status   int
	wrote    bool
	body     bytes.Buffer
	overflow bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	if !r.overflow {
		if r.body.Len()+len(p) > maxChecked {
			r.overflow = true
			r.body.Reset()
		} else {
			r.body.Write(p)
		}
	}
	return r.ResponseWriter.Write(p)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the real writer (deadlines,
// hijacking).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// CheckDocument fails t unless docs/openapi.yaml is valid against the
// OpenAPI 3.1 schema.
func CheckDocument(t testing.TB) {
	t.Helper()
	doc, err := libopenapi.NewDocument(docs.OpenAPI)
	if err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	v, errs := validator.NewValidator(doc)
	for _, e := range errs {
		t.Errorf("docs/openapi.yaml: %v", e)
	}
	if v == nil {
		return
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("docs/openapi.yaml: %s: %s (line %d)", e.Message, e.Reason, e.SpecLine)
			for _, f := range e.SchemaValidationErrors {
				t.Errorf("  %s at %s", f.Reason, f.FieldPath)
			}
		}
	}
}
