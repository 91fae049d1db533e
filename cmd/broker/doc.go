// Command broker is the broker's CLI: serve, check-config, migrate, apps,
// keys and version. Each command reads broker.yaml (-c FILE, default
// ./broker.yaml or $BROKER_CONFIG), and the serving and store-touching ones
// open the store chosen by store.driver through broker.OpenStore.
package main
