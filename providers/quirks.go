package providers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"golang.org/x/oauth2"
)

// ErrorClass is what a failed token request means for the connection.
type ErrorClass int

// Error classes.
const (
	ClassOther     ErrorClass = iota // a failure that neither a retry nor the user is known to fix
	ClassReauth                      // the grant is dead (invalid_grant or the provider's equivalent): NEEDS_REAUTH
	ClassTransient                   // network error, 5xx or 429: retry later, status unchanged
)

func (c ErrorClass) String() string {
	switch c {
	case ClassReauth:
		return "reauth"
	case ClassTransient:
		return "transient"
	}
	return "other"
}

// Callback outcomes, the `error` values an app receives on its redirect URL.
const (
	OutcomeReject      = "reject"
	OutcomeUnsupported = "unsupported"
	OutcomeInternal    = "internal"
)

// ClassifyTokenError says what a token-endpoint failure means. It reads the
// structured fields of *oauth2.RetrieveError (error code, HTTP status, the
// provider's JSON error body), never the error's text.
func (p *Provider) ClassifyTokenError(err error) ErrorClass {
	if err == nil {
		return ClassOther
	}
	if errors.Is(err, ErrNoRefreshToken) {
		return ClassReauth
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		if re.ErrorCode == "invalid_grant" {
			return ClassReauth
		}
		if tc, ok := p.Room.(TokenErrorClassifier); ok {
			if class, ok := tc.ClassifyTokenError(re); ok {
				return class
			}
		}
		switch {
		case status >= 500, status == http.StatusTooManyRequests,
			re.ErrorCode == "temporarily_unavailable", re.ErrorCode == "server_error":
			return ClassTransient
		}
		return ClassOther
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return ClassTransient
	}
	return ClassOther
}

// CallbackOutcome maps the error of an authorization response to what the
// app is told. Provider text only steers the choice; it is never shown.
func (p *Provider) CallbackOutcome(errCode, errDescription string) string {
	switch errCode {
	case "", "access_denied":
		return OutcomeReject // "" is a return with neither code nor error (Cal.com's "Go back")
	case "invalid_scope", "unsupported_response_type", "unauthorized_client":
		return OutcomeUnsupported
	}
	if co, ok := p.Room.(CallbackOutcomer); ok {
		if out, ok := co.CallbackOutcome(errCode, errDescription); ok {
			return out
		}
	}
	return OutcomeInternal
}

// ErrorFields reads RFC 6749 error and error_description from a JSON body,
// for a room that builds its own *oauth2.RetrieveError.
func ErrorFields(body []byte) (code, desc string) {
	var b struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &b)
	return b.Error, b.ErrorDescription
}

// tokenError is a failed token, refresh or revoke call. Its text names the
// operation, the HTTP status and the OAuth error code only: the provider's
// body and description stay out of logs. Unwrap gives the
// *oauth2.RetrieveError (or network error) for errors.As.
type tokenError struct {
	op  string
	err error
}

func tokenErr(op string, err error) error {
	var te *tokenError
	if errors.As(err, &te) {
		return err
	}
	return &tokenError{op: op, err: err}
}

func (e *tokenError) Error() string {
	var re *oauth2.RetrieveError
	if !errors.As(e.err, &re) {
		return fmt.Sprintf("providers: %s: %v", e.op, e.err)
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	if code := safeCode(re.ErrorCode); code != "" {
		return fmt.Sprintf("providers: %s: HTTP %d %s", e.op, status, code)
	}
	return fmt.Sprintf("providers: %s: HTTP %d", e.op, status)
}

func (e *tokenError) Unwrap() error { return e.err }

// safeCode keeps an OAuth error code only when it looks like one
// ([a-z0-9_], short), so provider text cannot ride into a log line.
func safeCode(s string) string {
	if len(s) > 40 {
		return ""
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return ""
		}
	}
	return s
}

// DescribeError says what went wrong at a provider endpoint in words safe
// for a log line or an error message: the HTTP status and the OAuth error
// code, never the response body nor the error's text (which may echo a
// code or a credential).
func DescribeError(err error) string {
	var re *oauth2.RetrieveError
	switch {
	case err == nil:
		return "no error"
	case errors.As(err, &re):
		s := "token endpoint"
		if re.Response != nil {
			s += " status " + strconv.Itoa(re.Response.StatusCode)
		}
		if plainCode(re.ErrorCode) {
			s += " error " + re.ErrorCode
		}
		return s
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return "network error"
	}
	return "error"
}

// plainCode reports whether s looks like an OAuth error code ([a-z0-9_],
// short), so provider text cannot ride into a log line.
func plainCode(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}
