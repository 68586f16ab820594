package provider

// Value is what was read for one object in one region.
type Value struct {
	// Data is SecretString's bytes, SecretBinary's raw bytes, or the SSM value.
	Data []byte
	// Version is the Secrets Manager VersionId or the SSM version number of
	// exactly this value.
	Version string
	// Missing says that the object does not exist and is optional: it
	// has no files (Data and Version are empty).
	Missing bool
}
