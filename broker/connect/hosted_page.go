package connect

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/providers"
)

// pageView is what the hosted page shows.
type pageView struct {
	app        model.App
	AppName    string
	AppInitial string
	Logo       template.URL // a data: URL, or empty
	Choices    []*choice
	Form       *formView // the credentials form of one provider, or nil
	CSRF       string
	Action     string // the page's own path, where its forms post
	origins    []string
}

// choice is one provider on the page.
type choice struct {
	ID, Name string
	OAuth    bool
	APIKey   bool // a credentials provider taking an API key (else username and password)
}

type formView struct {
	*choice
	Username string
	Error    string
}

func (v *pageView) find(id string) *choice {
	for _, c := range v.Choices {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// selectForm shows the credentials form of provider id.
func (v *pageView) selectForm(id string) bool {
	c := v.find(id)
	if c == nil || c.OAuth {
		return false
	}
	v.Form = &formView{choice: c}
	return true
}

// pageView builds the page of sess for the browser holding nonce. The
// providers are those the session names that are still enabled.
func (s *Service) pageView(ctx context.Context, sess model.AuthSession) (*pageView, error) {
	app, err := s.st.GetApp(ctx, sess.AppID)
	if err != nil {
		return nil, fmt.Errorf("connect page: app: %w", err)
	}
	v := &pageView{app: app, AppName: app.Name, Action: s.pagePath + "/" + sess.ID}
	if r, _ := utf8.DecodeRuneInString(app.Name); r != utf8.RuneError {
		v.AppInitial = string(unicode.ToUpper(r))
	}
	if s.logos != nil && app.LogoURL != "" {
		v.Logo = template.URL(s.logos.dataURL(ctx, app.LogoURL))
	}
	v.origins = append(v.origins, originOf(sess.RedirectURL))
	for _, id := range sess.Scopes {
		p, ok := s.reg.Get(id)
		if !ok || !p.IsEnabled() {
			continue
		}
		c := &choice{ID: p.ID, Name: p.Name, OAuth: p.Kind == providers.KindOAuth2, APIKey: p.Kind == providers.KindAPIKey}
		if c.OAuth {
			v.origins = append(v.origins, originOf(p.AuthURL))
		}
		v.Choices = append(v.Choices, c)
	}
	if len(v.Choices) == 0 {
		return nil, fmt.Errorf("connect page: none of its providers is enabled any more")
	}
	return v, nil
}

// originOf is a URL's scheme://host[:port], for form-action; "" when it has
// anything a CSP source must not contain.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	for _, c := range u.Host {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-:[]", c)) {
			return ""
		}
	}
	return u.Scheme + "://" + u.Host
}

const hostedCSS = `*{box-sizing:border-box}body{font:16px/1.5 system-ui,-apple-system,sans-serif;margin:0;background:#f4f5f7;color:#1b1f24}
main{max-width:26rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:12px;box-shadow:0 1px 4px #0002}
header{display:flex;align-items:center;gap:.75rem;margin-bottom:1rem}.logo{width:48px;height:48px;border-radius:10px;flex:none;object-fit:contain}
.initial{display:flex;align-items:center;justify-content:center;background:#1a56db;color:#fff;font-weight:700;font-size:1.4rem}
h1{font-size:1.25rem;margin:0}ul{list-style:none;margin:0;padding:0}li{margin:.5rem 0}
.btn{display:block;width:100%;font:inherit;text-align:left;padding:.75rem 1rem;border-radius:8px;border:1px solid #8a94a6;background:#fff;color:inherit;text-decoration:none;cursor:pointer}
.btn.primary{background:#1a56db;border-color:#1a56db;color:#fff;text-align:center}
.btn:focus-visible,input:focus-visible,a:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
label{display:block;margin:.75rem 0 .25rem;font-weight:600}input{width:100%;font:inherit;padding:.6rem;border:1px solid #8a94a6;border-radius:8px}
.err{color:#9b1c1c;background:#fdf2f2;border:1px solid #f8b4b4;border-radius:8px;padding:.5rem .75rem}
.note{color:#4b5563;font-size:.875rem}.row{margin-top:1.25rem}
@media (max-width:30rem){main{margin:0;border-radius:0;min-height:100vh;box-shadow:none}}`

var hostedStyleHash = func() string {
	h := sha256.Sum256([]byte(hostedCSS))
	return "'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"
}()

var hostedTmpl = template.Must(template.New("connect").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Connect your calendar to {{.AppName}}</title><style>` + hostedCSS + `</style></head>
<body><main>
<header>{{if .Logo}}<img class="logo" src="{{.Logo}}" alt="{{.AppName}} logo">{{else}}<span class="logo initial" aria-hidden="true">{{.AppInitial}}</span>{{end}}
<h1>Connect your calendar to <span id="app-name">{{.AppName}}</span></h1></header>
{{with .Form}}
<form method="post" action="{{$.Action}}" novalidate>
<input type="hidden" name="csrf" value="{{$.CSRF}}"><input type="hidden" name="provider" value="{{.ID}}">
<p>Sign in to <strong>{{.Name}}</strong>. What you type goes to the broker, which checks it with {{.Name}} and keeps it encrypted; {{$.AppName}} never sees it.</p>
{{if .Error}}<p class="err" id="form-error" role="alert">{{.Error}}</p>{{end}}
{{if .APIKey}}
<label for="apiKey">API key</label>
<input id="apiKey" name="apiKey" type="password" autocomplete="off" required autofocus{{if .Error}} aria-describedby="form-error"{{end}}>
{{else}}
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required value="{{.Username}}"{{if not .Username}} autofocus{{end}}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required{{if .Username}} autofocus{{end}}{{if .Error}} aria-describedby="form-error"{{end}}>
{{end}}
<div class="row"><button class="btn primary" type="submit">Connect</button></div>
</form>
<p class="row"><a href="{{$.Action}}">Choose another calendar</a></p>
{{else}}
<p>Choose your calendar service. {{.AppName}} will be able to read your calendar through the broker.</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<ul>{{range .Choices}}<li>{{if .OAuth}}<button class="btn" type="submit" name="provider" value="{{.ID}}">{{.Name}}</button>{{else}}<a class="btn" href="{{$.Action}}?provider={{.ID}}">{{.Name}}</a>{{end}}</li>
{{end}}</ul>
</form>
{{end}}
<p class="note row">This page is served by the broker on behalf of {{.AppName}}. It works once, and only in this browser.</p>
</main></body></html>
`))

// renderPage writes the hosted page with its CSP: nothing loads but the
// inline style (by hash) and a data: logo; forms may post only here, to
// the app's redirect origin (where a credentials connect ends) and to the
// offered OAuth providers (where a choice leads), since Chromium checks
// form-action on every redirect after a submission.
func (s *Service) renderPage(w http.ResponseWriter, status int, v *pageView) {
	var buf bytes.Buffer
	if err := hostedTmpl.Execute(&buf, v); err != nil {
		s.log.Error("connect page: template", "err", err)
		s.errorPage(w, http.StatusInternalServerError, pageFailed)
		return
	}
	actions := []string{"'self'"}
	for _, o := range v.origins {
		if o != "" && !strings.Contains(strings.Join(actions, " "), o) {
			actions = append(actions, o)
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src "+hostedStyleHash+"; img-src data:; form-action "+
		strings.Join(actions, " ")+"; base-uri 'none'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
