package api_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"strconv"
	"testing"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/client"
)

// The typed Go client against the real router: a service that imports only
// the client lists providers, connects by OAuth and by credentials, pages
// and reads its connections, tests and disconnects one, and gets the
// broker's errors as *client.Error.
func TestTypedClient(t *testing.T) {
	e := newEnv(t)
	app := e.newApp(model.PermConnectionsManage, model.PermConnectionsRead)
	ctx := context.Background()
	cl, err := client.New(e.url+"/", app.secret)
	if err != nil {
		t.Fatal(err)
	}

	ps, err := cl.Providers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	methods := map[string][]string{}
	for _, p := range ps {
		methods[p.ID] = p.ConnectMethods
	}
	if m := methods[pGoogle]; len(m) != 1 || m[0] != client.ConnectOAuth {
		t.Fatalf("providers %+v", ps)
	}
	if m := methods[pBasic]; len(m) != 1 || m[0] != client.ConnectCredentials {
		t.Fatalf("providers %+v", ps)
	}

	start, err := cl.ConnectOAuth(ctx, client.OAuthRequest{ProviderID: pGoogle, ScheduleID: "sched-1", RedirectURL: appRedirect, LoginHint: "ann@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if start.ExpiresAt.IsZero() {
		t.Error("no expiresAt")
	}
	b := newBrowser(t)
	id := connected(t, b.finish(b.toCallback(b.toProvider(start.OAuthURL))))

	conn, err := cl.Connection(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if conn.ID != id || conn.ProviderID != pGoogle || conn.Status != client.StatusConnected || conn.Account.Email != "ann@example.com" ||
		conn.LastRefreshedAt == nil || len(conn.Scopes) == 0 {
		t.Fatalf("connection %+v", conn)
	}

	dav, err := cl.ConnectCredentials(ctx, client.CredentialsRequest{ProviderID: pBasic, ScheduleID: "sched-1",
		Credentials: client.Credentials{Username: davUser, Password: davPass}})
	if err != nil || dav.Status != client.StatusConnected || dav.ProviderID != pBasic {
		t.Fatalf("credentials: %+v, %v", dav, err)
	}
	_, err = cl.ConnectCredentials(ctx, client.CredentialsRequest{ProviderID: pBasic, ScheduleID: "sched-1",
		Credentials: client.Credentials{Username: davUser, Password: "wrong"}})
	if client.ErrorCode(err) != client.CodeInvalidArgument {
		t.Fatalf("wrong password: %v", err)
	}

	page, err := cl.Connections(ctx, client.ListOptions{ScheduleID: "sched-1", Limit: 1})
	if err != nil || len(page.Connections) != 1 || page.NextCursor == "" {
		t.Fatalf("first page %+v, %v", page, err)
	}
	all, err := cl.AllConnections(ctx, client.ListOptions{ScheduleID: "sched-1", Limit: 1})
	if err != nil || len(all) != 2 || all[0].ID == all[1].ID {
		t.Fatalf("all %+v, %v", all, err)
	}
	if only, err := cl.Connections(ctx, client.ListOptions{ProviderID: pBasic}); err != nil || len(only.Connections) != 1 || only.Connections[0].ID != dav.ID {
		t.Fatalf("by provider %+v, %v", only, err)
	}

	if res, err := cl.TestConnection(ctx, dav.ID); err != nil || !res.OK {
		t.Fatalf("test: %+v, %v", res, err)
	}
	gone, err := cl.Disconnect(ctx, id)
	if err != nil || gone.Status != client.StatusDisconnected {
		t.Fatalf("disconnect: %+v, %v", gone, err)
	}
	if res, err := cl.TestConnection(ctx, id); err != nil || res.OK || res.Code != "disconnected" {
		t.Fatalf("test after disconnect: %+v, %v", res, err)
	}

	// Errors arrive as *client.Error with the envelope's code and field.
	_, err = cl.Connection(ctx, "con_does_not_exist")
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusNotFound || ce.Code != client.CodeNotFound {
		t.Fatalf("missing connection: %v", err)
	}
	_, err = cl.ConnectOAuth(ctx, client.OAuthRequest{ProviderID: pGoogle, ScheduleID: "sched-1", RedirectURL: "https://evil.example/cb"})
	if !errors.As(err, &ce) || ce.Code != client.CodeInvalidArgument || ce.Field != "redirectUrl" {
		t.Fatalf("foreign redirect: %v", err)
	}
	other, _ := client.New(e.url, "bks_nope_0000")
	if _, err := other.Providers(ctx); client.ErrorCode(err) != client.CodeUnauthenticated {
		t.Fatalf("wrong secret: %v", err)
	}
	reader := e.newApp(model.PermConnectionsRead)
	rc, _ := client.New(e.url, reader.secret)
	if _, err := rc.Disconnect(ctx, dav.ID); client.ErrorCode(err) != client.CodePermissionDenied {
		t.Fatalf("disconnect without CONNECTIONS_MANAGE: %v", err)
	}
}

// The client's codes are the broker's: every Code constant of
// broker/model has its client constant with the same spelling.
func TestClientCodesAreTheBrokers(t *testing.T) {
	clientCodes := map[string]bool{}
	for _, c := range []string{client.CodeInvalidArgument, client.CodeUnauthenticated, client.CodePermissionDenied,
		client.CodeNotFound, client.CodeConflict, client.CodeNeedsReauth, client.CodePayloadTooLarge, client.CodeRateLimited,
		client.CodeInternal, client.CodeUpstreamUnavailable, client.CodeUnavailable, client.CodeUpstreamTimeout} {
		clientCodes[c] = true
	}
	f, err := parser.ParseFile(token.NewFileSet(), "../model/errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, sp := range g.Specs {
			vs := sp.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
				continue
			}
			for _, v := range vs.Values {
				lit, _ := strconv.Unquote(v.(*ast.BasicLit).Value)
				n++
				if !clientCodes[lit] {
					t.Errorf("model code %q has no client constant", lit)
				}
			}
		}
	}
	if n != len(clientCodes) {
		t.Errorf("model has %d codes, the client %d", n, len(clientCodes))
	}
}
