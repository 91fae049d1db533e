// Package deploy holds the deployment files (Dockerfile, compose, Kubernetes
// sidecar and shared service, systemd unit) and a test that parses each one
// and checks it against the config that config.Load accepts: ports, probe
// paths, commands and environment names must agree, so a renamed key or
// variable cannot silently break a deployment.
package deploy
