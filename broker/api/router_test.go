package api

import (
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// A Deps with a service missing is refused, naming it, and mounts nothing:
// a wiring slip fails at start instead of leaving a route group out (a 404
// in production).
func TestRegisterRefusesMissingDependencies(t *testing.T) {
	g := gin.New()
	err := Register(g, Deps{})
	if err == nil {
		t.Fatal("Register accepted an empty Deps")
	}
	for _, name := range []string{"Store", "Auth", "Apps", "Proxy", "Connect", "Webhooks", "Events"} {
		if !strings.Contains(err.Error(), "Deps."+name) {
			t.Errorf("%v does not name Deps.%s", err, name)
		}
	}
	if n := len(g.Routes()); n != 0 {
		t.Fatalf("%d routes mounted", n)
	}
}
