package class

// ParamNames lists the SecretProviderClass parameters a class parsed with
// catalog is read from: the class's own, then its modes'. Parsing ignores
// every other key of the Mount attributes, as the reference provider does
// (the driver adds its own keys there), so a misspelt parameter in a class
// is silently unused; tools that see spec.parameters alone use this list to
// point it out.
func ParamNames(catalog Catalog) ([]string, error) {
	l, err := newParamList(catalog.Modes)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(l))
	for i, p := range l {
		names[i] = p.Name
	}
	return names, nil
}
