package connect

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/providers"
)

// A failed exchange is logged (callback) or recorded for the access log (code
// flow, 5xx): what the provider's body said must not ride along, it may echo
// the code; the caller's code still tells a timeout from an outage.
func TestExchangeErrorCarriesNoProviderText(t *testing.T) {
	const code = "4/0AbCdEf-the-authorization-code"
	p := &providers.Provider{ID: "google"}
	body := []byte(`{"error":"server_error","error_description":"could not redeem ` + code + `"}`)
	upstream := &oauth2.RetrieveError{Response: &http.Response{StatusCode: http.StatusBadGateway}, Body: body,
		ErrorCode: "server_error", ErrorDescription: "could not redeem " + code}
	s := &Service{}
	for _, tc := range []struct {
		name      string
		err       error
		appFacing bool
		want      model.Code
	}{
		{"redirect flow, provider 5xx", upstream, false, model.CodeUpstreamUnavailable},
		{"code flow, provider 5xx", upstream, true, model.CodeUpstreamUnavailable},
		{"timeout", fmt.Errorf("oauth2: %w", context.DeadlineExceeded), true, model.CodeUpstreamTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.exchangeError(p, tc.err, tc.appFacing)
			if strings.Contains(err.Error(), code) || strings.Contains(err.Error(), "redeem") {
				t.Fatalf("error carries the provider's text: %v", err)
			}
			if got := model.CodeOf(err); got != tc.want {
				t.Fatalf("code %s, want %s (%v)", got, tc.want, err)
			}
		})
	}
	refused := &oauth2.RetrieveError{Response: &http.Response{StatusCode: http.StatusBadRequest}, Body: body, ErrorCode: "invalid_grant"}
	if err := s.exchangeError(p, refused, true); model.CodeOf(err) != model.CodeInvalidArgument || !errors.Is(err, refused) {
		t.Fatalf("a code refused by the provider: %v", err)
	}
}
