package class

// The limits, for the tests of package class_test (docs/limits.md).
const (
	MaxObjectsBytes    = maxObjectsBytes
	MaxObjects         = maxObjects
	MaxJMESPathEntries = maxJMESPathEntries
)
