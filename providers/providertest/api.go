package providertest

import (
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Paths of the echo API with a special behaviour (under /api):
//
//	/api/status/{code}    answers that status (after the credential check)
//	/api/redirect         answers 302 to another origin (must not be followed)
//	/api/download?bytes=N streams N bytes
//	/api/untyped          answers an HTML-looking body with no Content-Type (and its own X-Content-Type-Options)
//	/api/bigheaders?bytes=N answers with a response header of N bytes
//	/api/earlyhints       answers 103 Early Hints (Link, X-Broker-Error, the cookie), then 200
//
// Every other path echoes the request as JSON (Echo). Every answer sets a
// cookie, which a proxy must not pass back.
const (
	UpstreamCookie = "upstream_session=from-provider; Path=/; HttpOnly"
	RedirectTarget = "https://elsewhere.example/landing"
)

// Echo is what the echo API answers: the request as the provider saw it.
type Echo struct {
	Method     string              `json:"method"`
	Path       string              `json:"path"`
	RawPath    string              `json:"rawPath,omitempty"`
	RawQuery   string              `json:"rawQuery"`
	Host       string              `json:"host"`
	Headers    map[string][]string `json:"headers"`
	BodyLength int64               `json:"bodyLength"`
	User       string              `json:"user,omitempty"` // whose token it was
}

func (s *Server) handleAPI(w http.ResponseWriter, r *http.Request) {
	s.apiCalls.Add(1)
	w.Header().Add("Set-Cookie", UpstreamCookie)
	user, ok := s.apiCredential(r)
	if !ok && !s.o.OpenAPI {
		_, _ = io.Copy(io.Discard, r.Body)
		s.wire.WriteUnauthorized(w, r.URL.Path)
		return
	}
	switch {
	case r.URL.Path == "/api/redirect":
		http.Redirect(w, r, RedirectTarget, http.StatusFound)
		return
	case r.URL.Path == "/api/untyped":
		w.Header()["Content-Type"] = nil                     // nil: Go's server sends none and sniffs nothing
		w.Header().Set("X-Content-Type-Options", "sniff-me") // a value the proxy must replace, not add to
		_, _ = io.WriteString(w, "<html><script>document.title='sniffed'</script></html>")
		return
	case r.URL.Path == "/api/earlyhints":
		// An interim answer carrying what a final one may not pass on (and
		// the cookie every answer sets), then a final 200.
		w.Header().Set("Link", "</evil.js>; rel=preload; as=script")
		w.Header().Set("X-Broker-Error", "forged")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Del("X-Broker-Error")
		w.Header().Del("Set-Cookie")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"final":true}`)
		return
	case r.URL.Path == "/api/bigheaders":
		n, _ := strconv.Atoi(r.URL.Query().Get("bytes"))
		w.Header().Set("X-Big", strings.Repeat("b", max(0, min(n, 64<<20))))
		w.WriteHeader(http.StatusOK)
		return
	case r.URL.Path == "/api/download":
		n, _ := strconv.ParseInt(r.URL.Query().Get("bytes"), 10, 64)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		buf := make([]byte, 32<<10)
		for i := range buf {
			buf[i] = 'x'
		}
		for n > 0 {
			k := min(n, int64(len(buf)))
			if _, err := w.Write(buf[:k]); err != nil {
				return
			}
			n -= k
		}
		return
	}
	n, _ := io.Copy(io.Discard, r.Body)
	status := http.StatusOK
	if code, ok := strings.CutPrefix(r.URL.Path, "/api/status/"); ok {
		if c, err := strconv.Atoi(code); err == nil && c >= 200 && c <= 599 {
			status = c
		}
	}
	WriteJSON(w, status, Echo{
		Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery,
		Host: r.Host, Headers: r.Header, BodyLength: n, User: user,
	})
}

// apiCredential finds a live access token anywhere a provider might take
// one: Authorization Bearer or Basic, any other header, any query value.
// The echo reports where it came from, so tests assert the exact placement.
func (s *Server) apiCredential(r *http.Request) (string, bool) {
	var cands []string
	if u, p, ok := r.BasicAuth(); ok {
		cands = append(cands, u, p)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			if k == "Authorization" {
				v, _ = strings.CutPrefix(v, "Bearer ")
			}
			cands = append(cands, v)
		}
	}
	for _, vs := range r.URL.Query() {
		cands = append(cands, vs...)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range cands {
		if a, ok := s.validAccess(c); ok {
			return a.user, true
		}
	}
	return "", false
}

// handleUserInfo answers the user-info call in the Wire's shape.
func (s *Server) handleUserInfo(w http.ResponseWriter, r *http.Request) {
	s.userInfoCalls.Add(1)
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	a, ok := s.validAccess(tok)
	var user string
	var n int
	if ok {
		user = a.user
		n = s.userID(user)
	}
	s.mu.Unlock()
	if !ok {
		s.wire.WriteUnauthorized(w, r.URL.Path)
		return
	}
	first, last := displayName(user)
	local, _, _ := strings.Cut(user, "@")
	WriteJSON(w, http.StatusOK, s.wire.UserInfo(User{
		Email: user, Local: local, First: first, Last: last, Name: first + " " + last, N: n, ID: s.wire.AccountID(n),
	}))
}
