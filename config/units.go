package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// scalar returns the text of a scalar node, or an error naming what was
// found instead (a list or a mapping where one value belongs).
func scalar(n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("must be %s, not a %s", what, kindName(n.Kind))
	}
	return strings.TrimSpace(n.Value), nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	default:
		return "value"
	}
}

// UnmarshalYAML reads a Go duration such as "20s", "5m" or "720h".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalar(n, "a duration such as 20s")
	if err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: use a number with a unit, such as 20s, 5m or 1h", short(s))
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as "20s".
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

func (d Duration) String() string { return time.Duration(d).String() }

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1},
}

// UnmarshalYAML reads a size as a number of bytes (65536) or a whole number
// with a binary unit: "64KiB", "100MiB", "1GiB".
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalar(n, "a size such as 64KiB")
	if err != nil {
		return err
	}
	v, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// ParseByteSize parses "65536", "64KiB", "100MiB", "1GiB" or "1TiB".
func ParseByteSize(s string) (ByteSize, error) {
	bad := fmt.Errorf("invalid size %q: use a number of bytes or a whole number with KiB, MiB or GiB, such as 64KiB", short(s))
	num, mult := s, int64(1)
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v < 0 {
		return 0, bad
	}
	if v > math.MaxInt64/mult {
		return 0, fmt.Errorf("invalid size %q: too large", short(s))
	}
	return ByteSize(v * mult), nil
}

// MarshalYAML writes the size with the largest unit that divides it.
func (b ByteSize) MarshalYAML() (any, error) { return b.String(), nil }

func (b ByteSize) String() string {
	for _, u := range byteUnits[:len(byteUnits)-1] {
		if b != 0 && int64(b)%u.mult == 0 {
			return strconv.FormatInt(int64(b)/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// UnmarshalYAML reads a rate with ParseRate: every rate key has this one
// syntax.
func (r *Rate) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalar(n, "a rate such as 10/s")
	if err != nil {
		return err
	}
	v, err := ParseRate(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// ParseRate parses the one rate syntax of broker.yaml: "N/s", "N/m", "N/h",
// "N/<duration>" (such as "5/10s"), or a bare whole number N, which is N/s;
// "0" (or "0/s") is no limit. N is also the burst: that many may come at
// once before the rate applies.
func ParseRate(s string) (Rate, error) {
	bad := fmt.Errorf("invalid rate %q: use N/s, N/m or N/h (such as 10/s or 600/m), a whole number N for N/s, or 0 for no limit", short(s))
	num, unit, perUnit := strings.Cut(s, "/")
	events, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || events < 0 {
		if f, ferr := strconv.ParseFloat(strings.TrimSpace(num), 64); ferr == nil && f > 0 && !perUnit {
			return Rate{}, fmt.Errorf("invalid rate %q: N must be a whole number; write a slower rate per minute or hour, such as 30/m", short(s))
		}
		return Rate{}, bad
	}
	per := time.Second
	if perUnit {
		switch unit = strings.TrimSpace(unit); unit {
		case "s":
		case "m":
			per = time.Minute
		case "h":
			per = time.Hour
		default:
			per, err = time.ParseDuration(unit)
			if err != nil || per <= 0 {
				return Rate{}, bad
			}
		}
	}
	if events == 0 {
		return Rate{}, nil
	}
	return Rate{Per: per, Events: events}, nil
}

// MarshalYAML writes the rate as "10/s".
func (r Rate) MarshalYAML() (any, error) { return r.String(), nil }

func (r Rate) String() string {
	if r.PerSecond() == 0 {
		return "0"
	}
	switch r.Per {
	case time.Second:
		return fmt.Sprintf("%d/s", r.Events)
	case time.Minute:
		return fmt.Sprintf("%d/m", r.Events)
	case time.Hour:
		return fmt.Sprintf("%d/h", r.Events)
	}
	return fmt.Sprintf("%d/%s", r.Events, r.Per)
}

// short keeps a value quoted in an error message to a readable length.
func short(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:37]) + "..."
	}
	return s
}
