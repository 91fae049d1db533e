// Package secrets owns the broker's cryptography at rest: an AES-256-GCM key
// ring that encrypts tokens and credentials (the key id travels inside every
// ciphertext, so keys rotate without downtime), and the generation, hashing
// and constant-time verification of app secrets and webhook secrets.
//
// It uses the standard library only and does no I/O: callers choose what to
// encrypt and where to store it. Nothing in this package ever puts key
// material, a plaintext or a secret into an error message.
package secrets
