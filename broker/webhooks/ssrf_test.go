package webhooks

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/oauthbroker/broker/broker/model"
)

// fakeDNS is a DNS server on loopback UDP that answers every A and AAAA
// question from its table: a receiver's name can be made to resolve
// anywhere, as an attacker's DNS would after registration.
type fakeDNS struct {
	addr    string
	answers map[string][]netip.Addr // lower-case name with trailing dot
}

func newFakeDNS(t *testing.T, answers map[string][]netip.Addr) *fakeDNS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	d := &fakeDNS{addr: pc.LocalAddr().String(), answers: answers}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out, ok := d.answer(buf[:n]); ok {
				pc.WriteTo(out, from)
			}
		}
	}()
	return d
}

func (d *fakeDNS) answer(query []byte) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
	b.EnableCompression()
	b.StartQuestions()
	b.Question(q)
	b.StartAnswers()
	rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 1}
	for _, a := range d.answers[strings.ToLower(q.Name.String())] {
		switch {
		case q.Type == dnsmessage.TypeA && a.Is4():
			b.AResource(rh, dnsmessage.AResource{A: a.As4()})
		case q.Type == dnsmessage.TypeAAAA && a.Is6():
			b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: a.As16()})
		}
	}
	out, err := b.Finish()
	return out, err == nil
}

func (d *fakeDNS) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp", d.addr)
	}}
}

// countingListener is where a refused delivery would land: a loopback TCP
// listener that counts the connections it accepts.
func countingListener(t *testing.T) (port string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted = new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return port, accepted
}

// TestDialRefusesInternalAddressesWhateverTheNameResolvesTo: the webhookUrl
// passed registration as a public name, and its DNS later answers with an
// internal address. The delivery is refused when dialling: the loopback
// listener sees no connection, and the delivery's lastError says why
// without the address. Literals stored around registration are refused
// before any dial.
func TestDialRefusesInternalAddressesWhateverTheNameResolvesTo(t *testing.T) {
	port, accepted := countingListener(t)
	dns := newFakeDNS(t, map[string][]netip.Addr{
		"loopback.receiver.example.":  {netip.MustParseAddr("127.0.0.1")},
		"mapped.receiver.example.":    {netip.MustParseAddr("::ffff:127.0.0.1")},
		"ipv6.receiver.example.":      {netip.MustParseAddr("::1")},
		"private.receiver.example.":   {netip.MustParseAddr("10.0.0.1")},
		"metadata.receiver.example.":  {netip.MustParseAddr("169.254.169.254")},
		"cgnat.receiver.example.":     {netip.MustParseAddr("100.64.0.1")},
		"ula.receiver.example.":       {netip.MustParseAddr("fd00:ec2::254")},
		"multicast.receiver.example.": {netip.MustParseAddr("224.0.0.1")},
	})
	urls := []string{
		"https://loopback.receiver.example:" + port + "/hooks",
		"https://mapped.receiver.example:" + port + "/hooks",
		"https://ipv6.receiver.example:" + port + "/hooks",
		"https://private.receiver.example:" + port + "/hooks",
		"https://metadata.receiver.example/latest/meta-data/",
		"https://cgnat.receiver.example:" + port + "/hooks",
		"https://ula.receiver.example:" + port + "/hooks",
		"https://multicast.receiver.example:" + port + "/hooks",
		// Stored around the registration check (an old row, a direct
		// write): the delivery checks the URL again before dialling.
		"https://127.0.0.1:" + port + "/hooks",
		"https://[::ffff:127.0.0.1]:" + port + "/hooks",
		"https://2130706433:" + port + "/hooks",
		"https://0x7f.1:" + port + "/hooks",
		"http://localhost:" + port + "/hooks",
	}
	for _, u := range urls {
		t.Run(u, func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.AllowLoopback = false; o.Resolver = dns.resolver() })
			e.setWebhookURL(u)
			ev := e.event("conn_"+strconv.Itoa(len(u)), model.EventConnectionNeedsReauth)
			e.deliverDue()
			got := e.get(ev.ID)
			if got.Status == model.DeliveryDelivered || got.Attempts != 1 {
				t.Fatalf("status %s after %d attempts; want one failed attempt", got.Status, got.Attempts)
			}
			if !strings.Contains(got.LastError, "refused") {
				t.Errorf("lastError %q does not say the address was refused", got.LastError)
			}
			if strings.Contains(got.LastError, "127.0.0.1") || strings.Contains(got.LastError, "169.254") {
				t.Errorf("lastError %q names the internal address", got.LastError)
			}
		})
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the loopback listener accepted %d connections; want none", n)
	}
}

// TestDialCheckIsWhatRefuses is the control of the test above: the same
// name, resolver and listener with loopback allowed reach the listener, so
// it was the dial check, not the fake DNS, that kept them out.
func TestDialCheckIsWhatRefuses(t *testing.T) {
	port, accepted := countingListener(t)
	dns := newFakeDNS(t, map[string][]netip.Addr{"loopback.receiver.example.": {netip.MustParseAddr("127.0.0.1")}})
	e := newEnv(t, func(o *Options) { o.AllowLoopback = true; o.Resolver = dns.resolver() })
	e.setWebhookURL("https://loopback.receiver.example:" + port + "/hooks")
	e.event("conn_1", model.EventConnectionNeedsReauth)
	e.deliverDue()
	if accepted.Load() == 0 {
		t.Fatal("with loopback allowed the delivery never reached the listener: the resolver is not used")
	}
}

func (e *env) setWebhookURL(u string) {
	e.t.Helper()
	if _, err := e.st.UpdateApp(e.t.Context(), e.app.ID, func(a model.App) (model.App, error) {
		a.WebhookURL = u
		return a, nil
	}); err != nil {
		e.t.Fatal(err)
	}
	e.app.WebhookURL = u
}
