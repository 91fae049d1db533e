// Package microsoft is Microsoft's room: the identity platform's AADSTS
// error codes (which mean a dead grant, which an account the app may not
// serve) and the shape of Graph's /me. Its fake is microsofttest.
package microsoft
