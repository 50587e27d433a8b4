package cap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Limits on input. Real CAP messages are a few kB; the largest public ones (NWS alerts with
// detailed county polygons, Canada's bilingual messages with many geocodes) stay well under
// 1 MiB.
const (
	MaxSize     = 5 << 20  // bytes of one CAP message accepted by Unmarshal and Verify
	MaxFeedSize = 20 << 20 // bytes of one feed accepted by ParseFeed
	MaxDepth    = 32       // element nesting; CAP itself needs 5, a Signature 6 more
)

// node is one element of a parsed document.
type node struct {
	name     xml.Name
	attr     []xml.Attr
	children []*node
	content  []any // *node or string, in document order (for extensions)
	text     strings.Builder
	line     int
}

func (n *node) Text() string { return n.text.String() }

// parseTree reads a whole document into a tree, refusing anything dangerous: more than limit
// bytes, a DOCTYPE or entity declaration, nesting beyond MaxDepth, an encoding other than
// UTF-8 / US-ASCII / ISO-8859-1, or anything not well-formed. encoding/xml itself never fetches
// anything and knows only the five predefined entities; refusing the DOCTYPE gives a clear
// error instead of an "undefined entity" one and closes the door on any future change.
func parseTree(b []byte, limit int) (*node, error) {
	if len(b) > limit {
		return nil, errf(ErrTooLarge, "", 0, "input is %d bytes, the limit is %d", len(b), limit)
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // UTF-8 byte-order mark
	if bytes.HasPrefix(b, []byte("\xfe\xff")) || bytes.HasPrefix(b, []byte("\xff\xfe")) {
		return nil, errf(ErrCharset, "", 0, "UTF-16 input is not supported; send UTF-8")
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	d.CharsetReader = charsetReader
	var (
		root  *node
		stack []*node
	)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		line, _ := d.InputPos()
		if err != nil {
			var cs *charsetError
			if errors.As(err, &cs) {
				return nil, errf(ErrCharset, "", 0, "%s", cs.msg)
			}
			return nil, errf(ErrSyntax, "", line, "%s", strings.TrimPrefix(err.Error(), "XML syntax error on line "))
		}
		switch t := tok.(type) {
		case xml.Directive:
			return nil, errf(ErrDoctype, "", line, "found <!%s>; DOCTYPE and entity declarations are not allowed", truncate(string(t), 40))
		case xml.StartElement:
			if len(stack) >= MaxDepth {
				return nil, errf(ErrTooDeep, "", line, "elements nested deeper than %d", MaxDepth)
			}
			n := &node{name: t.Name, attr: t.Copy().Attr, line: line}
			if len(stack) == 0 {
				if root != nil {
					return nil, errf(ErrSyntax, "", line, "more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
				p.content = append(p.content, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				continue // white space around the root
			}
			p := stack[len(stack)-1]
			p.text.Write(t)
			if k := len(p.content); k > 0 {
				if s, ok := p.content[k-1].(string); ok {
					p.content[k-1] = s + string(t)
					continue
				}
			}
			p.content = append(p.content, string(t))
		case xml.ProcInst, xml.Comment:
			// The xml declaration was handled by the decoder; comments and other
			// processing instructions carry no CAP content.
		}
	}
	if root == nil {
		return nil, errf(ErrSyntax, "", 0, "no root element")
	}
	return root, nil
}

type charsetError struct{ msg string }

func (e *charsetError) Error() string { return e.msg }

// charsetReader accepts ISO-8859-1 (and its aliases) and US-ASCII; encoding/xml handles UTF-8
// itself. Windows-1252 is refused rather than guessed: its 0x80–0x9F differ from Latin-1.
func charsetReader(label string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "iso-ir-100", "cp819", "ibm819", "csisolatin1":
		return &latin1Reader{r: r}, nil
	case "us-ascii", "ascii", "iso646-us", "us":
		return &asciiReader{r: r}, nil
	}
	return nil, &charsetError{fmt.Sprintf("encoding %q is not supported (only UTF-8, US-ASCII and ISO-8859-1)", label)}
}

// latin1Reader converts ISO-8859-1 to UTF-8: each byte is the code point of the same value.
type latin1Reader struct {
	r   io.Reader
	buf []byte
}

func (l *latin1Reader) Read(p []byte) (int, error) {
	if len(p) < 2 {
		return 0, io.ErrShortBuffer
	}
	if cap(l.buf) < len(p)/2 {
		l.buf = make([]byte, len(p)/2)
	}
	src := l.buf[:len(p)/2]
	n, err := l.r.Read(src)
	out := 0
	for _, c := range src[:n] {
		out += utf8.EncodeRune(p[out:], rune(c))
	}
	return out, err
}

type asciiReader struct{ r io.Reader }

func (a *asciiReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	for _, c := range p[:n] {
		if c >= 0x80 {
			return 0, &charsetError{"byte above 0x7F in a document declared US-ASCII"}
		}
	}
	return n, err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// serialize writes n and its subtree as standalone XML: every element whose namespace differs
// from its parent's declares it as the default namespace, namespaced attributes get generated
// prefixes (a0, a1, … or xml), original xmlns declarations are dropped. The output is the same
// whatever prefixes the input used, and serialising a re-parse of it gives it back.
func serialize(n *node) []byte {
	var b bytes.Buffer
	serializeNode(&b, n, "\x00") // a parent namespace no element has
	return b.Bytes()
}

func serializeNode(b *bytes.Buffer, n *node, parentNS string) {
	b.WriteByte('<')
	b.WriteString(n.name.Local)
	if n.name.Space != parentNS {
		b.WriteString(` xmlns="`)
		escapeAttr(b, n.name.Space)
		b.WriteByte('"')
	}
	prefixes := map[string]string{}
	for _, a := range n.attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		b.WriteByte(' ')
		switch a.Name.Space {
		case "":
		case "http://www.w3.org/XML/1998/namespace", "xml":
			b.WriteString("xml:")
		default:
			p, ok := prefixes[a.Name.Space]
			if !ok {
				p = fmt.Sprintf("a%d", len(prefixes))
				prefixes[a.Name.Space] = p
				b.WriteString("xmlns:" + p + `="`)
				escapeAttr(b, a.Name.Space)
				b.WriteString(`" `)
			}
			b.WriteString(p + ":")
		}
		b.WriteString(a.Name.Local)
		b.WriteString(`="`)
		escapeAttr(b, a.Value)
		b.WriteByte('"')
	}
	if len(n.content) == 0 {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	for _, c := range n.content {
		switch c := c.(type) {
		case string:
			escapeText(b, c)
		case *node:
			serializeNode(b, c, n.name.Space)
		}
	}
	b.WriteString("</")
	b.WriteString(n.name.Local)
	b.WriteByte('>')
}

func escapeAttr(b *bytes.Buffer, s string) { _ = xml.EscapeText(b, []byte(s)) }

// escapeText escapes like xml.EscapeText but leaves '\n' and '\t' literal (they survive
// parsing in text content), which keeps descriptions readable in the output.
func escapeText(b *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\r':
			esc = "&#xD;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(esc)
		last = i + 1
	}
	b.WriteString(s[last:])
}

// validXMLText reports the first character of s that XML 1.0 cannot carry, if any.
func validXMLText(s string) (rune, bool) {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return r, false
			}
		}
		if !(r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF) {
			return r, false
		}
	}
	return 0, true
}
