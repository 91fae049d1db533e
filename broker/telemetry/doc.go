// Package telemetry builds the broker's OpenTelemetry tracer and meter
// providers from config, serves the Prometheus view of the metrics, and holds
// the broker's own instruments (Metrics) so the packages that do the work
// (tokens, connect, events, webhooks) record into one place through small
// nil-safe methods. It imports no broker package: everything may import it.
//
// Off costs nothing: with no OTLP endpoint and no OTEL_* variable the tracer
// provider is a no-op and no span is started; with prometheus: false the
// meter provider is a no-op too. Metric attributes never carry an app,
// connection or account id (those go on spans only). See docs/operations.md.
package telemetry
