package demo

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"strings"
)

// pageData fills the one page template: the authorize page when Request is
// set, the app's landing page when Connection or Outcome is, else a message.
type pageData struct {
	Title, Message string
	Request        string   // authorize: the pending request id
	Scopes         []string // authorize
	Account        string   // authorize
	Landing        bool     // the demo app's landing page
	Connection     string   // landing: the connectionId the broker sent
	Outcome        string   // landing: the error the broker sent
	Broker         string   // the broker's public URL
}

const css = `body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1b1f24}
main{max-width:28rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:12px;box-shadow:0 1px 4px #0002}
h1{font-size:1.3rem;margin:0 0 1rem}.badge{display:inline-block;padding:.1rem .5rem;border-radius:6px;background:#e8eefc;color:#1a3d8f;font-size:.8rem}
ul{padding-left:1.2rem}code{font-size:1rem;background:#f0f1f3;padding:.15rem .35rem;border-radius:4px;word-break:break-all}
.row{display:flex;gap:.75rem;margin-top:1.5rem}button{flex:1;font:inherit;padding:.7rem;border-radius:8px;border:1px solid #8a94a6;background:#fff;cursor:pointer}
button.primary{background:#1a56db;border-color:#1a56db;color:#fff}button:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.err{color:#9b1c1c}@media (max-width:30rem){main{margin:0;border-radius:0;min-height:100vh}}`

// pageCSP allows the one inline style by its hash and nothing else to load.
// form-action is left out on purpose: Chromium checks it on every redirect
// a form submission leads to, and Allow ends (through the broker's
// callback) at whatever redirect URL the app gave, which this page cannot
// know.
var pageCSP = func() string {
	h := sha256.Sum256([]byte(css))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(h[:]) +
		"'; base-uri 'none'; frame-ancestors 'none'"
}()

var pageTmpl = template.Must(template.New("demo").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title><style>` + css + `</style></head>
<body><main>
<p><span class="badge">{{if .Landing}}Demo app{{else}}Demo Calendar{{end}}</span></p>
<h1>{{.Title}}</h1>
{{if .Request}}
<p>The <strong>broker</strong> asks to sign you in as <strong>{{.Account}}</strong> and to:</p>
<ul>{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>
<p>This is a demo account with a few days of made-up events. No real account is involved.</p>
<form method="post" action="authorize">
<input type="hidden" name="request" value="{{.Request}}">
<div class="row"><button type="submit" name="decision" value="deny">Deny</button>
<button type="submit" name="decision" value="allow" class="primary" autofocus>Allow</button></div>
</form>
{{else if .Landing}}
{{if .Connection}}<p>The broker connected the demo calendar. Your app stores this id:</p>
<p><code id="connectionId">{{.Connection}}</code></p>
<p>Call the calendar through the broker with the app's credentials, for example:</p>
<p><code>curl -u "$CLIENT_ID:$CLIENT_SECRET" {{.Broker}}/proxy/{{.Connection}}/users/me/calendarList</code></p>
{{else}}<p class="err">The connection was not made: <code id="error">{{.Outcome}}</code>.</p>
<p>{{if eq .Outcome "reject"}}You pressed Deny.{{else}}Start again from the app.{{end}}</p>{{end}}
{{else}}<p>{{.Message}}</p>{{end}}
</main></body></html>
`))

func (s *Server) page(w http.ResponseWriter, status int, d pageData) {
	var buf bytes.Buffer
	d.Broker = strings.TrimSuffix(s.base, Path)
	if err := pageTmpl.Execute(&buf, d); err != nil {
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

// home is GET /demo/: what this is.
func (s *Server) home(w http.ResponseWriter, _ *http.Request) {
	s.page(w, http.StatusOK, pageData{Title: "The broker's demo provider",
		Message: "A built-in OAuth provider and Google-Calendar-style API for trying the broker without any account. The README shows the whole flow."})
}

// appLanding is GET /demo/app, the demo app's redirect URL: it shows what
// the broker sent back. Only a well-formed connection id or outcome word is
// shown; html/template escapes it anyway.
func (s *Server) appLanding(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := pageData{Title: "Connected", Landing: true}
	if c := q.Get("connectionId"); c != "" && len(c) <= 64 && isToken(c) {
		d.Connection = c
	} else {
		d.Title, d.Outcome = "Not connected", "internal"
		if e := q.Get("error"); e == "reject" || e == "unsupported" {
			d.Outcome = e
		}
	}
	s.page(w, http.StatusOK, d)
}

func isToken(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
