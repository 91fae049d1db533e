package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Version, Commit and BuildDate may be set at build time with
// -ldflags "-X main.Version=v1.2.3 -X main.Commit=… -X main.BuildDate=…";
// what is left empty comes from the build info Go stamps into the binary
// (the module version, vcs.revision, vcs.time).
var (
	Version   string
	Commit    string
	BuildDate string
)

// buildInfo is what `broker version` prints and serve announces.
type buildInfo struct {
	Version, Commit, Date string
	// DateIsCommit: no build date was given, so Date is the commit's time
	// (vcs.time), which is what the build info holds.
	DateIsCommit bool
	Modified     bool // built from a tree with uncommitted changes
	Go           string
}

func readBuildInfo() buildInfo {
	info, _ := debug.ReadBuildInfo()
	return fromBuildInfo(info, buildInfo{Version: Version, Commit: Commit, Date: BuildDate, Go: runtime.Version()})
}

// fromBuildInfo fills what the -X values in b left empty from info (nil:
// none, as in a binary built without module support).
func fromBuildInfo(info *debug.BuildInfo, b buildInfo) buildInfo {
	if info != nil {
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				if b.Date == "" {
					b.Date, b.DateIsCommit = s.Value, true
				}
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	return b
}

// short is the version line serve prints.
func (b buildInfo) short() string {
	s := b.Version
	if b.Commit != "" {
		c := b.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		s += " (" + c
		if b.Modified {
			s += ", modified"
		}
		s += ")"
	}
	return s
}

func (b buildInfo) write(w io.Writer) {
	commit, date := b.Commit, b.Date
	if commit == "" {
		commit = "unknown (built without version control information)"
	} else if b.Modified {
		commit += " (modified)"
	}
	if date == "" {
		date = "unknown"
	} else if b.DateIsCommit {
		date += " (commit time)"
	}
	fmt.Fprintf(w, "broker %s\ncommit: %s\ndate:   %s\ngo:     %s %s/%s\n", b.Version, commit, date, b.Go, runtime.GOOS, runtime.GOARCH)
}

func (c *cli) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version, commit and build date",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			readBuildInfo().write(cmd.OutOrStdout())
			return nil
		},
	}
}
