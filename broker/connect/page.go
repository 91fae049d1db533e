package connect

import (
	"bytes"
	"html/template"
	"net/http"
)

// The error pages of the browser flow. They say what the user can do and
// nothing about why in detail: no provider text, state or code is ever shown
// (docs/security.md §7), and html/template escapes whatever is.
type pageKind int

const (
	// pageInvalid: the link or the return from the provider cannot be used
	// (bad, expired, replayed state; another browser; iss mismatch).
	pageInvalid pageKind = iota
	// pageFailed: the broker could not continue (store down, signing).
	pageFailed
	// pageTooMany: this address is over security.rateLimits.browser.
	pageTooMany
	// pageAttempts: a hosted page was tried MaxPageAttempts times.
	pageAttempts
)

var pageText = map[pageKind]struct{ Title, Body string }{
	pageInvalid: {"This sign-in link cannot be used",
		"It has expired, was already used, or was opened in a different browser. Go back to the app and start connecting again."},
	pageFailed: {"Something went wrong",
		"The connection could not be completed. Go back to the app and try again in a moment."},
	pageAttempts: {"Too many attempts",
		"This sign-in link was tried too many times and no longer works. Go back to the app and start connecting again."},
	pageTooMany: {"Too many requests",
		"This browser or network sent too many requests in a short time. Wait a few seconds, then reload this page."},
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title></head>
<body><main><h1>{{.Title}}</h1><p>{{.Body}}</p></main></body></html>
`))

// pageCSP allows nothing: the page has no script, style, image or form.
const pageCSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (s *Service) errorPage(w http.ResponseWriter, status int, k pageKind) { writePage(w, status, k) }

// TooManyRequestsPage answers 429 with the broker's own page, for the
// browser routes' rate limit (the caller sets Retry-After).
func TooManyRequestsPage(w http.ResponseWriter) {
	writePage(w, http.StatusTooManyRequests, pageTooMany)
}

func writePage(w http.ResponseWriter, status int, k pageKind) {
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, pageText[k]); err != nil {
		http.Error(w, "error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
