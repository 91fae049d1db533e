package middleware

import "github.com/gin-gonic/gin"

// NoStore forbids caching of the response (API answers, redirects that carry
// a connection id or an error): Cache-Control: no-store, Pragma: no-cache.
func NoStore() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		c.Next()
	}
}

// NoSniff labels every answer as exactly what its Content-Type says
// (X-Content-Type-Options: nosniff): JSON that quotes a caller's input, the
// OpenAPI YAML and the metrics text are never run as a page of the broker's
// origin. It runs before the handler, so it holds for every route, errors
// and unknown paths included; pages and the proxy set it too.
func NoSniff() gin.HandlerFunc {
	return func(c *gin.Context) {
		// One shared value, not a []string per request (every proxied
		// request passes here): Set and Add on a header replace or grow
		// its slice, never write into it.
		c.Writer.Header()["X-Content-Type-Options"] = nosniffValue
		c.Next()
	}
}

var nosniffValue = []string{"nosniff"}

// SecurityHeaders hardens the broker's HTML pages and redirects: no MIME
// sniffing, no Referer (the callback URL carries the code and state), no
// framing (clickjacking of the connect page). A page sets its own
// Content-Security-Policy, which depends on what it loads.
func SecurityHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		c.Next()
	}
}
