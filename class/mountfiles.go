package class

// MountFiles checks the names of the files one Mount adds to those every
// Mount of the class writes: the keys of its jsonKeysAsFiles objects,
// which only the value read at Mount time has. Every name is checked
// before any file is written, against the class's files and the keys
// named so far, and the keys count against the class's MaxFiles
// (docs/limits.md).
type MountFiles struct {
	c     *Class
	names *fileNames
}

// MountFiles starts the check of one Mount's file names with every file
// the class writes whatever its values: each object's own (those of an
// optional object left out too: a key must not take a name the object
// will want when it appears) and its jmesPath entries'.
func (c *Class) MountFiles() (*MountFiles, error) {
	m := &MountFiles{c: c, names: newFileNames(len(c.Objects))}
	if err := m.names.addClass(c.Objects); err != nil {
		return nil, err
	}
	return m, nil
}

// AddKeys names the files of the keys of o, a jsonKeysAsFiles object of
// the class, in the order of keys: each key translated as an objectAlias
// is. It fails, naming the object and the key, when the files would be
// more than MaxFiles, when a key gives no valid file name, or when a
// key's file is another file's or the directory of another's (naming that
// file and its writer).
func (m *MountFiles) AddKeys(o *Object, keys []string) ([]string, error) {
	if n := len(m.names.owners) + len(keys); n > MaxFiles {
		return nil, invalidArg("%s: jsonKeysAsFiles: the value has %d top-level keys, and with them the SecretProviderClass would write %d files, more than the %d one may write; list the keys you need under jmesPath instead, or split the secret",
			o.Label(), len(keys), n, MaxFiles)
	}
	out := make([]string, len(keys))
	for k, key := range keys {
		name := translateName(m.c.PathTranslation, key, "")
		if o.Dir != "" {
			name = o.Dir + "/" + name
		}
		if why := CheckRelPath(name); why != "" {
			return nil, invalidArg("%s: jsonKeysAsFiles key %s gives file name %s, which %s; rename the key in the secret, or list the keys you need under jmesPath, each with an objectAlias",
				o.Label(), short(key), short(name), why)
		}
		if err := m.names.add(name, fileOwner{obj: o, jmes: -1, key: key, isKey: true}); err != nil {
			return nil, err
		}
		out[k] = name
	}
	return out, nil
}
