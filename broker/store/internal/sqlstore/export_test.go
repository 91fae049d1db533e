package sqlstore

// FindConnectionQuery is the statement FindConnection runs, for the plan test.
const FindConnectionQuery = findConnection
