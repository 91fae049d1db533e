package middleware

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/model"
)

func TestBodyLimit(t *testing.T) {
	const limit = 16
	reached := false
	e := engineWith(BodyLimit(limit))
	e.POST("/x", func(c *gin.Context) {
		reached = true
		b, err := io.ReadAll(c.Request.Body)
		if err != nil {
			if IsBodyTooLarge(fmt.Errorf("api: reading body: %w", err)) {
				Fail(c, model.ErrPayloadTooLarge)
				return
			}
			Fail(c, err)
			return
		}
		c.String(http.StatusOK, "%d", len(b))
	})
	srv := httptest.NewServer(e)
	defer srv.Close()

	tests := []struct {
		name        string
		body        io.Reader
		chunked     bool
		status      int
		wantReached bool
	}{
		{"empty", nil, false, 200, true},
		{"at the limit", strings.NewReader(strings.Repeat("a", limit)), false, 200, true},
		{"declared over the limit", strings.NewReader(strings.Repeat("a", limit+1)), false, 413, false},
		{"chunked under the limit", strings.NewReader("small"), true, 200, true},
		{"chunked over the limit", strings.NewReader(strings.Repeat("a", 10*limit)), true, 413, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reached = false
			body := tt.body
			if tt.chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/x", body)
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != tt.status || reached != tt.wantReached {
				t.Fatalf("status %d, handler reached %v", res.StatusCode, reached)
			}
			if tt.status == 413 {
				var env model.ErrorBody
				if err := json.NewDecoder(res.Body).Decode(&env); err != nil || env.Error.Code != model.CodePayloadTooLarge {
					t.Fatalf("envelope %+v, %v", env, err)
				}
				if res.Header.Get(HeaderBrokerError) != "payload_too_large" {
					t.Fatalf("%s = %q", HeaderBrokerError, res.Header.Get(HeaderBrokerError))
				}
			}
		})
	}
}

func TestIsBodyTooLarge(t *testing.T) {
	if IsBodyTooLarge(errors.New("other")) || IsBodyTooLarge(nil) || IsBodyTooLarge(io.ErrUnexpectedEOF) {
		t.Fatal("unrelated error reported as too large")
	}
	if !IsBodyTooLarge(fmt.Errorf("x: %w", &http.MaxBytesError{Limit: 1})) {
		t.Fatal("wrapped MaxBytesError not found")
	}
}

func TestBodyLimitRefusesZero(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("BodyLimit(0) did not panic")
		}
	}()
	BodyLimit(0)
}

func TestBodyLimitWithGinBinding(t *testing.T) {
	e := engineWith(BodyLimit(32))
	e.POST("/json", func(c *gin.Context) {
		var v map[string]string
		if err := c.ShouldBindJSON(&v); err != nil {
			if IsBodyTooLarge(err) {
				Fail(c, model.ErrPayloadTooLarge)
				return
			}
			Fail(c, model.Invalid("body", "not JSON"))
			return
		}
		c.Status(http.StatusNoContent)
	})
	r := httptest.NewRequest(http.MethodPost, "/json", strings.NewReader(`{"a":"`+strings.Repeat("b", 100)+`"}`))
	r.ContentLength = -1 // as a chunked request arrives
	if w := perform(e, r); w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	r = httptest.NewRequest(http.MethodPost, "/json", strings.NewReader(`{"a":"b"}`))
	if w := perform(e, r); w.Code != http.StatusNoContent {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
}
