// Package zoom is Zoom's room: how Zoom says a grant is dead ({"reason":
// "Invalid Token!","error":"invalid_request"} rather than invalid_grant)
// and the shape of its /users/me. Its fake is zoomtest.
package zoom
