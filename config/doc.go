// Package config is broker.yaml as typed structs: Load decodes it strictly
// (an unknown key is an error naming its path), expands ${VAR} and
// ${VAR:-default} from the environment and applies the defaults named here;
// Validate reports every problem at once, each with its YAML path, and
// resolves the providers against the catalog (package providers) so their
// problems carry paths too. It reads no other file and opens nothing.
package config
