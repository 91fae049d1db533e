package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"

	"github.com/oauthbroker/broker/broker/model"
)

// HeaderBrokerError marks a response the broker made itself, carrying the
// error code; it equals middleware.HeaderBrokerError (the proxy does not
// depend on the Gin middleware).
const HeaderBrokerError = "X-Broker-Error"

// writeError answers with the docs/api.md envelope on a plain
// http.ResponseWriter, like middleware.Fail does on a Gin context.
func writeError(w http.ResponseWriter, err error) {
	status, body := model.Envelope(err)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set(HeaderBrokerError, string(body.Error.Code))
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// credError answers a failure of the token manager with its own code: a
// missing and a foreign connection are the same 404 (docs/security.md §11),
// NEEDS_REAUTH is 409, a token endpoint that failed is 502.
func (p *Proxy) credError(w http.ResponseWriter, connID string, err error) {
	if status, _ := model.Envelope(err); status >= 500 {
		p.log.Warn("proxy: no credential", "connection", connID, "code", model.CodeOf(err), "err", err)
	}
	writeError(w, err)
}

// errorHandler answers when the upstream call failed before a response
// came back: the body limit (413), a deadline (504), anything else (502).
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	perr := classify(err)
	attrs := []any{"code", model.CodeOf(perr), "err", redact(err)}
	if c := callFrom(r.Context()); c != nil {
		attrs = append(attrs, "connection", c.cred.ConnectionID, "provider", c.cred.Provider.ID)
	}
	if errors.Is(err, context.Canceled) {
		p.log.Debug("proxy: caller went away", attrs...)
	} else {
		p.log.Warn("proxy: upstream call failed", attrs...)
	}
	writeError(w, perr)
}

func classify(err error) error {
	var mb *http.MaxBytesError
	var op *net.OpError
	var ne net.Error
	switch {
	case errors.As(err, &mb):
		return errTooLarge(mb.Limit)
	case errors.Is(err, model.ErrNeedsReauth):
		return &model.Error{Code: model.CodeNeedsReauth, Message: "the connection needs to be re-authorized", Err: err}
	case errors.Is(err, errLeftBase):
		return &model.Error{Code: model.CodeInvalidArgument, Field: "path", Message: "proxy path refused", Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &model.Error{Code: model.CodeUpstreamTimeout, Err: err}
	case errors.As(err, &op) && op.Op == "dial":
		return &model.Error{Code: model.CodeUpstreamUnavailable, Err: err}
	case errors.As(err, &ne) && ne.Timeout():
		return &model.Error{Code: model.CodeUpstreamTimeout, Err: err}
	default:
		return &model.Error{Code: model.CodeUpstreamUnavailable, Err: err}
	}
}

// redact keeps URLs out of logged errors: a query may hold an injected API
// key.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
