package model

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Code is an error code of the HTTP API (docs/api.md). Codes are part of the
// public contract: callers switch on them.
type Code string

// The codes of the error envelope.
const (
	CodeInvalidArgument     Code = "invalid_argument"
	CodeUnauthenticated     Code = "unauthenticated"
	CodePermissionDenied    Code = "permission_denied"
	CodeNotFound            Code = "not_found"
	CodeConflict            Code = "conflict"
	CodePayloadTooLarge     Code = "payload_too_large"
	CodeNeedsReauth         Code = "needs_reauth"
	CodeRateLimited         Code = "rate_limited"
	CodeUnavailable         Code = "unavailable"
	CodeUpstreamUnavailable Code = "upstream_unavailable"
	CodeUpstreamTimeout     Code = "upstream_timeout"
	CodeInternal            Code = "internal"
)

// Sentinel errors. Stores and services wrap them with %w; CodeOf finds them.
var (
	ErrNotFound            = errors.New("not found")
	ErrConflict            = errors.New("conflict")
	ErrStale               = errors.New("stale update: the record changed since it was read")
	ErrExpired             = errors.New("expired")
	ErrUnauthenticated     = errors.New("unauthenticated")
	ErrPermissionDenied    = errors.New("permission denied")
	ErrNeedsReauth         = errors.New("connection needs re-authorization")
	ErrUnavailable         = errors.New("store unavailable")
	ErrUpstreamUnavailable = errors.New("upstream unavailable")
	ErrUpstreamTimeout     = errors.New("upstream timeout")
	ErrRateLimited         = errors.New("rate limited")
	ErrPayloadTooLarge     = errors.New("payload too large")
)

// Error is an error with a code for the caller and, for invalid input, the
// field at fault. Message is shown to the caller as is, so it must never hold
// a secret.
type Error struct {
	Code    Code
	Message string
	Field   string
	Err     error // cause, for logs and errors.Is; never shown
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// RetryAfter is a refusal that knows when the call may be tried again;
// middleware.Fail sends that as the Retry-After header, in whole seconds.
type RetryAfter interface {
	error
	RetryIn() time.Duration
}

// Invalid returns an invalid_argument error naming the field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidArgument, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Errorf returns an error with the given code.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

var sentinelCodes = []struct {
	err  error
	code Code
}{
	{ErrNotFound, CodeNotFound},
	{ErrConflict, CodeConflict},
	{ErrStale, CodeConflict},
	{ErrExpired, CodeNotFound},
	{ErrUnauthenticated, CodeUnauthenticated},
	{ErrPermissionDenied, CodePermissionDenied},
	{ErrNeedsReauth, CodeNeedsReauth},
	{ErrUnavailable, CodeUnavailable},
	{ErrUpstreamUnavailable, CodeUpstreamUnavailable},
	{ErrUpstreamTimeout, CodeUpstreamTimeout},
	{ErrRateLimited, CodeRateLimited},
	{ErrPayloadTooLarge, CodePayloadTooLarge},
}

// CodeOf returns the code for err: the code of the first *Error in its chain,
// else that of a wrapped sentinel, else internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	for _, s := range sentinelCodes {
		if errors.Is(err, s.err) {
			return s.code
		}
	}
	return CodeInternal
}

// HTTPStatus is the one table from error code to HTTP status.
func HTTPStatus(c Code) int {
	switch c {
	case CodeInvalidArgument:
		return http.StatusBadRequest
	case CodeUnauthenticated:
		return http.StatusUnauthorized
	case CodePermissionDenied:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeConflict, CodeNeedsReauth:
		return http.StatusConflict
	case CodePayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeRateLimited:
		return http.StatusTooManyRequests
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	case CodeUpstreamUnavailable:
		return http.StatusBadGateway
	case CodeUpstreamTimeout:
		return http.StatusGatewayTimeout
	default:
		return http.StatusInternalServerError
	}
}

// ErrorBody is the JSON envelope: {"error":{"code","message","field"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of the envelope.
type ErrorDetail struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// Envelope turns err into the status and body a caller sees. Errors that are
// not *Error show a generic message for their code, so internal details (SQL,
// file paths, upstream bodies) never leak.
func Envelope(err error) (int, ErrorBody) {
	code := CodeOf(err)
	d := ErrorDetail{Code: code, Message: defaultMessage(code)}
	var e *Error
	if errors.As(err, &e) {
		if e.Message != "" {
			d.Message = e.Message
		}
		d.Field = e.Field
	}
	return HTTPStatus(code), ErrorBody{Error: d}
}

func defaultMessage(c Code) string {
	switch c {
	case CodeInvalidArgument:
		return "invalid argument"
	case CodeUnauthenticated:
		return "missing or invalid credentials"
	case CodePermissionDenied:
		return "permission denied"
	case CodeNotFound:
		return "not found"
	case CodeConflict:
		return "conflict"
	case CodePayloadTooLarge:
		return "payload too large"
	case CodeNeedsReauth:
		return "the connection needs to be re-authorized by its user"
	case CodeRateLimited:
		return "rate limited"
	case CodeUnavailable:
		return "the broker's store is unavailable"
	case CodeUpstreamUnavailable:
		return "the provider is unavailable"
	case CodeUpstreamTimeout:
		return "the provider did not answer in time"
	default:
		return "internal error"
	}
}
