package demo

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// maxInProcessResponse bounds a response served in-process; the demo's
// largest (a full events page) is a few hundred KiB.
const maxInProcessResponse = 8 << 20

// Transport serves the broker's own requests to the demo (token, user info,
// test, /proxy) in-process and sends every other request to next. A request
// is the demo's when its URL starts with the demo's base URL, so nothing
// else can reach the demo's handler this way.
func (s *Server) Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &transport{s: s, next: next, prefix: s.base + "/"}
}

type transport struct {
	s      *Server
	next   http.RoundTripper
	prefix string
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	u := *req.URL
	u.RawQuery, u.Fragment = "", ""
	full := u.Scheme + "://" + u.Host + u.EscapedPath()
	if !strings.HasPrefix(full, t.prefix) {
		return t.next.RoundTrip(req)
	}
	if req.Body != nil {
		defer req.Body.Close()
	}
	// The handler sees the path the broker mounts it on, whatever the
	// path of publicUrl.
	r := req.Clone(req.Context())
	r.URL.Path, r.URL.RawPath = "", ""
	r.URL, _ = r.URL.Parse(Path + "/" + strings.TrimPrefix(full, t.prefix))
	r.URL.RawQuery = req.URL.RawQuery
	r.RequestURI = r.URL.RequestURI()
	r.RemoteAddr = "127.0.0.1:0"
	rec := &recorder{h: http.Header{}}
	t.s.mux.ServeHTTP(rec, r)
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	resp := &http.Response{
		Status: strconv.Itoa(rec.code) + " " + http.StatusText(rec.code), StatusCode: rec.code,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: rec.h, Body: io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		ContentLength: int64(rec.body.Len()), Request: req,
	}
	if req.Method == http.MethodHead {
		resp.Body = http.NoBody
	}
	return resp, nil
}

// recorder is the in-process http.ResponseWriter.
type recorder struct {
	h    http.Header
	code int
	body bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.h }

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	if r.body.Len()+len(p) > maxInProcessResponse {
		return 0, io.ErrShortWrite
	}
	return r.body.Write(p)
}
