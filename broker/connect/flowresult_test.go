package connect

import (
	"errors"
	"fmt"
	"testing"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/telemetry"
)

// The result an app-driven flow is counted under: a refusal (invalid code
// or credentials) is reject, an upstream or store failure internal.
func TestFlowResult(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, telemetry.ConnectConnected},
		{&model.Error{Code: model.CodeInvalidArgument, Field: "code", Message: "refused"}, telemetry.ConnectReject},
		{fmt.Errorf("wrapped: %w", &model.Error{Code: model.CodeInvalidArgument, Field: "credentials"}), telemetry.ConnectReject},
		{fmt.Errorf("connect: token exchange: %w", model.ErrUpstreamUnavailable), telemetry.ConnectInternal},
		{errors.New("store down"), telemetry.ConnectInternal},
	} {
		if got := flowResult(tc.err); got != tc.want {
			t.Errorf("flowResult(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}
