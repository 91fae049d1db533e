package providertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// failKind is why a token request failed; each quirk writes it in its own
// wire format.
type failKind int

const (
	failGrant    failKind = iota // refresh token unknown, used or revoked
	failCode                     // authorization code unknown
	failRedeemed                 // authorization code used twice
	failRedirect                 // redirect_uri differs from the authorize request
	failPKCE                     // code_verifier missing or wrong
	failClient                   // client authentication failed
	failRequest                  // malformed request; detail says what
	failCustom                   // FailNextRefresh(code); detail is the code
)

// writeTokenError answers a token request in the quirk's error format:
// RFC 6749 {error, error_description}; Microsoft with an AADSTS code in the
// description and error_codes; Zoom {reason, error}; Cal.com {message}
// with 401 for anything about credentials.
func (s *Server) writeTokenError(w http.ResponseWriter, k failKind, detail string) {
	status := http.StatusBadRequest
	var code, desc, reason string
	var aad int
	switch k {
	case failGrant:
		code, desc, aad, reason = "invalid_grant", "Token has been expired or revoked.", 70008, "Invalid Token!"
	case failCode:
		code, desc, aad, reason = "invalid_grant", "Malformed auth code.", 70000, "Invalid authorization code"
	case failRedeemed:
		code, desc, aad, reason = "invalid_grant", "The code has already been redeemed.", 54005, "Invalid authorization code"
	case failRedirect:
		code, desc, aad, reason = "invalid_grant", "The redirect URI does not match the one in the authorization request.", 50148, "Redirect URI mismatch."
		if s.o.Quirks == Google {
			code = "redirect_uri_mismatch"
		}
	case failPKCE:
		code, desc, aad, reason = "invalid_grant", "The code_verifier does not match the code_challenge.", 501481, "Invalid code verifier"
	case failClient:
		status = http.StatusUnauthorized
		code, desc, aad, reason = "invalid_client", "Invalid client secret provided.", 7000215, "Invalid client_id or client_secret"
	case failRequest:
		code, desc, aad, reason = "invalid_request", detail, 900144, detail
	case failCustom:
		code, desc, reason = detail, "The provider refused the request.", detail
		switch detail {
		case "invalid_grant":
			aad, reason = 70008, "Invalid Token!"
		case "invalid_client":
			status, aad = http.StatusUnauthorized, 7000215
		}
	}
	switch s.o.Quirks {
	case Microsoft:
		body := map[string]any{"error": code, "error_description": desc,
			"timestamp": time.Now().UTC().Format("2006-01-02 15:04:05Z"), "trace_id": randomHex(), "correlation_id": randomHex()}
		if aad != 0 {
			body["error_description"] = fmt.Sprintf("AADSTS%d: %s Trace ID: %s", aad, desc, randomHex())
			body["error_codes"] = []int{aad}
		}
		writeJSON(w, status, body)
	case Zoom:
		if code == "invalid_grant" {
			code = "invalid_request" // Zoom's word for a dead token or code
		}
		writeJSON(w, status, map[string]string{"reason": reason, "error": code})
	case CalCom:
		if code == "invalid_grant" || code == "invalid_client" {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Unauthorized"})
			return
		}
		msg := desc
		if k == failCustom {
			msg = detail
		}
		writeJSON(w, status, map[string]string{"message": msg})
	default:
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
}

// writeBareStatus answers with a status and an HTML body, as a load balancer
// in front of the provider does.
func writeBareStatus(w http.ResponseWriter, status int) {
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>\n", status, http.StatusText(status))
}

// writeAPIUnauthorized answers an API or user-info call whose token is
// missing, unknown or stale, in the quirk's shape.
func (s *Server) writeAPIUnauthorized(w http.ResponseWriter, path string) {
	switch s.o.Quirks {
	case Google:
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{
			"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}})
	case Microsoft:
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{
			"code": "InvalidAuthenticationToken", "message": "Access token has expired or is not yet valid."}})
	case Zoom:
		writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 124, "message": "Invalid access token."})
	case CalCom:
		writeJSON(w, http.StatusUnauthorized, map[string]any{"status": "error", "timestamp": time.Now().UTC().Format(time.RFC3339),
			"path": path, "error": map[string]any{"code": "UnauthorizedException", "message": "Invalid Access Token."}})
	default:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func itoa(n int) string { return strconv.Itoa(n) }
