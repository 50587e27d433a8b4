package cap

import _ "embed"

// Schema is the official OASIS CAP 1.2 XML schema (CAP-v1.2.xsd, © OASIS Open 2010), embedded
// so the product can serve it next to its alerts. Tests validate Marshal's output against it.
//
//go:embed schema/CAP-v1.2.xsd
var Schema []byte
