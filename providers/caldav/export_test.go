package caldav

// SetMaxBody lowers the answer cap for a test and returns the undo.
func SetMaxBody(n int64) func() {
	old := maxBody
	maxBody = n
	return func() { maxBody = old }
}

// WindowsZones is the Windows → IANA table.
var WindowsZones = windowsZones
