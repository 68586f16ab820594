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
	// Members are what a listing object (class.Object.Listing) matched,
	// sorted by name; Data and Version are then empty.
	Members []Member
}

// Member is one object a listing matched, with its current value.
type Member struct {
	// Name is the object's full name (a secret name, a parameter path).
	Name    string
	Data    []byte
	Version string
}

// size is what the value holds, for the cache's byte bound.
func (v Value) size() int {
	n := len(v.Data) + len(v.Version)
	for _, m := range v.Members {
		n += len(m.Name) + len(m.Data) + len(m.Version)
	}
	return n
}
