package netguard

import (
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
)

func TestCheckURL(t *testing.T) {
	refused := []string{
		"https://169.254.169.254/", "http://127.0.0.1:2375/", "https://[::ffff:127.0.0.1]/",
		"https://[::ffff:7f00:1]/", "https://2130706433/", "https://0x7f000001/", "https://0177.0.0.1/",
		"https://127.1/", "https://0x7f.1/", "https://127.0.0.1./", "https://10.0.0.1/", "https://10.1/",
		"https://172.16.5.4/", "https://192.168.1.1/", "https://100.64.0.1/", "https://100.100.100.200/",
		"https://0.0.0.0/", "https://0/", "https://[::]/", "https://[::1]/", "https://[fe80::1%25eth0]/",
		"https://[fd00:ec2::254]/", "https://[64:ff9b::a9fe:a9fe]/", "https://[2002:a9fe:a9fe::]/",
		"https://[::127.0.0.1]/", "https://224.0.0.1/", "https://255.255.255.255/",
		"https://metadata.google.internal/", "https://METADATA.GOOGLE.INTERNAL./computeMetadata/v1/",
		"https://metadata/", "https://intranet/", "https://localhost/", "https://app.localhost/",
		"https://example.com:0/", "https://example.com:99999/", "https://example.com:/",
		"https://1.2.3.4.5/", "https://256.1.1.1/", "https://1.2.3.0x1ff/", "http://example.com/",
		"ftp://example.com/", "https://09.1.1.1/",
	}
	for _, raw := range refused {
		u, err := url.Parse(raw)
		if err != nil {
			continue // unparsable is refused before netguard by every caller
		}
		if err := CheckURL(u, false); err == nil || !errors.Is(err, ErrRefused) {
			t.Errorf("CheckURL(%s) = %v, want a refusal", raw, err)
		}
	}
	allowed := []string{"https://example.com/", "https://api.example.com:8443/x", "https://8.8.8.8/", "https://[2606:4700::1111]/", "https://1.1.1.1./"}
	for _, raw := range allowed {
		u, _ := url.Parse(raw)
		if err := CheckURL(u, false); err != nil {
			t.Errorf("CheckURL(%s) = %v, want allowed", raw, err)
		}
	}
	for _, raw := range []string{"http://127.0.0.1:8080/", "http://localhost/", "https://[::1]/", "http://127.1/"} {
		u, _ := url.Parse(raw)
		if err := CheckURL(u, true); err != nil {
			t.Errorf("CheckURL(%s, loopback) = %v, want allowed", raw, err)
		}
	}
	// Loopback permission is for loopback only.
	for _, raw := range []string{"http://10.0.0.1/", "http://example.com/", "https://app.localhost/", "http://169.254.169.254/"} {
		u, _ := url.Parse(raw)
		if err := CheckURL(u, true); err == nil {
			t.Errorf("CheckURL(%s, loopback) allowed", raw)
		}
	}
}

func TestRefusalNamesRangeNotURL(t *testing.T) {
	u, _ := url.Parse("https://10.0.0.1/secret?token=abc")
	err := CheckURL(u, false)
	if err == nil || strings.Contains(err.Error(), "abc") || !strings.Contains(err.Error(), "private") {
		t.Fatalf("err = %v", err)
	}
}

func TestControlRefusesDialledAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	// "localhost" is a name: only the dial-time check sees it is loopback.
	addr := strings.Replace(ln.Addr().String(), "127.0.0.1", "localhost", 1)
	d := net.Dialer{Control: Control(false)}
	if c, err := d.Dial("tcp", addr); err == nil || !errors.Is(err, ErrRefused) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("dial %s = %v, want refused", addr, err)
	}
	d.Control = Control(true)
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial with loopback allowed: %v", err)
	}
	c.Close()
}

func FuzzCheckHost(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "2130706433", "0x7f.1", "::ffff:10.0.0.1", "example.com", "0177.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if CheckHost(host, false) != nil {
			return
		}
		// Whatever passes must not be a loopback or private literal under
		// the strict parser either.
		if ip := net.ParseIP(strings.TrimSuffix(host, ".")); ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified()) {
			t.Fatalf("CheckHost(%q) allowed %v", host, ip)
		}
	})
}
