package sensorthings

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"

	"github.com/rabta/rabta/internal/apperr"
)

// The multipart/mixed batch format (OData 4.0 Protocol §11.7, SensorThings 1.1 §11): the body
// is a multipart/mixed document (RFC 2046 §5.1.3, read with mime/multipart). Each part is
// either
//
//   - one request: Content-Type: application/http, Content-Transfer-Encoding: binary, an
//     optional Content-ID, then the request as HTTP/1.1 puts it on the wire (request line,
//     headers, blank line, body; read with http.ReadRequest). Its URL may be relative to the
//     service root ("Things(1)"), absolute ("/v1.1/Things(1)", also under the path the server
//     is mounted at), a full URL, or start with "$<Content-ID>" of an earlier request. A body
//     without Content-Length runs to the end of the part.
//   - a change set: Content-Type: multipart/mixed; boundary=…, whose parts are requests as
//     above (no GET, no change set inside) that run atomically.
//
// The response is multipart/mixed in the same shape: one application/http part per request
// (its Content-ID echoed) holding "HTTP/1.1 <status> <text>", headers and body; a change set
// that committed answers with a nested multipart/mixed of its responses, one that failed with
// the single response of the request that failed (OData 4.0 §11.7.4).

// batchMultipart serves a multipart/mixed batch; params are the Content-Type's parameters.
func (s *Server) batchMultipart(w http.ResponseWriter, r *http.Request, params map[string]string) {
	boundary := params["boundary"]
	if boundary == "" {
		s.Error(w, r, apperr.E(apperr.Invalid, "$batch: Content-Type multipart/mixed has no boundary parameter (multipart/mixed; boundary=...)"))
		return
	}
	items, err := parseMultipartBatch(r.Body, boundary)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if err := checkItems(items, "change set"); err != nil {
		s.Error(w, r, err)
		return
	}
	results, applied := s.runBatch(r, items)
	if applied != "" {
		w.Header().Set("Preference-Applied", applied)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i < len(results); {
		g := results[i].item.Group
		if g == "" {
			writeHTTPPart(mw, results[i])
			i++
			continue
		}
		j := i
		for j < len(results) && results[j].item.Group == g {
			j++
		}
		set := results[i:j]
		i = j
		if failed := failure(set); failed != nil {
			writeHTTPPart(mw, failed) // a failed change set answers with its failure alone
			continue
		}
		b := multipart.NewWriter(io.Discard).Boundary() // a fresh random boundary for the change set
		part, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"multipart/mixed; boundary=" + b}})
		cs := multipart.NewWriter(part)
		cs.SetBoundary(b)
		for _, res := range set {
			writeHTTPPart(cs, res)
		}
		cs.Close()
	}
	mw.Close()
	w.Header().Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}

// failure returns the response of the request that made a change set fail, or nil if it committed.
func failure(set []*batchResult) *batchResult {
	var rolled bool
	for _, res := range set {
		rolled = rolled || res.rolledBack
	}
	if !rolled {
		return nil
	}
	for _, res := range set {
		if !res.rolledBack {
			return res
		}
	}
	return set[0]
}

// writeHTTPPart writes res as an application/http part of mw.
func writeHTTPPart(mw *multipart.Writer, res *batchResult) {
	h := textproto.MIMEHeader{"Content-Type": {"application/http"}, "Content-Transfer-Encoding": {"binary"}}
	if res.item.ID != "" {
		h.Set("Content-Id", res.item.ID)
	}
	part, _ := mw.CreatePart(h)
	fmt.Fprintf(part, "HTTP/1.1 %d %s\r\n", res.status, http.StatusText(res.status))
	hdr := res.header.Clone()
	if hdr == nil {
		hdr = http.Header{}
	}
	hdr.Del(apperr.RequestIDHeader) // the batch's own response carries it
	hdr.Set("Content-Length", strconv.Itoa(len(res.body)))
	hdr.Write(part)
	io.WriteString(part, "\r\n")
	part.Write(res.body)
}

// parseMultipartBatch reads the requests of a multipart/mixed batch body with the given
// boundary: at most maxBatch of them, change sets included. Errors are Invalid and say which
// part is wrong and how (TooLarge when the body is over the server's limit).
func parseMultipartBatch(body io.Reader, boundary string) ([]*batchItem, error) {
	var items []*batchItem
	mr := multipart.NewReader(body, boundary)
	for n := 1; ; n++ {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		where := fmt.Sprintf("part %d", n)
		if err != nil {
			return nil, multipartErr(where, err)
		}
		mt, params, err := partType(p, where)
		if err != nil {
			return nil, err
		}
		switch mt {
		case "application/http":
			it, err := readHTTPPart(p, where)
			if err != nil {
				return nil, err
			}
			items = append(items, it)
		case "multipart/mixed":
			if params["boundary"] == "" {
				return nil, apperr.E(apperr.Invalid, "$batch: %s: a change set's Content-Type multipart/mixed has no boundary parameter", where)
			}
			cr := multipart.NewReader(p, params["boundary"])
			group := fmt.Sprintf("changeset %d", n)
			for k := 1; ; k++ {
				cp, err := cr.NextRawPart()
				if err == io.EOF && k == 1 {
					return nil, apperr.E(apperr.Invalid, "$batch: %s: the change set holds no request", where)
				}
				if err == io.EOF {
					break
				}
				cwhere := fmt.Sprintf("%s (change set), part %d", where, k)
				if err != nil {
					return nil, multipartErr(cwhere, err)
				}
				cmt, _, err := partType(cp, cwhere)
				if err != nil {
					return nil, err
				}
				if cmt != "application/http" {
					return nil, apperr.E(apperr.Invalid, "$batch: %s: Content-Type %s; a change set holds only application/http requests, no change set", cwhere, cmt)
				}
				it, err := readHTTPPart(cp, cwhere)
				if err != nil {
					return nil, err
				}
				it.Group = group
				items = append(items, it)
				if len(items) > maxBatch {
					return nil, apperr.E(apperr.Invalid, "$batch: more than %d requests (maxBatch), change sets included", maxBatch)
				}
			}
		default:
			return nil, apperr.E(apperr.Invalid, "$batch: %s: Content-Type %s; want application/http (one request) or multipart/mixed (a change set)", where, mt)
		}
		if len(items) > maxBatch {
			return nil, apperr.E(apperr.Invalid, "$batch: more than %d requests (maxBatch), change sets included", maxBatch)
		}
	}
	return items, nil
}

// partType returns a part's media type, refusing a part without one and a transfer encoding
// other than binary.
func partType(p *multipart.Part, where string) (string, map[string]string, error) {
	ct := p.Header.Get("Content-Type")
	if ct == "" {
		return "", nil, apperr.E(apperr.Invalid, "$batch: %s has no Content-Type; want application/http (one request) or multipart/mixed (a change set)", where)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", nil, apperr.E(apperr.Invalid, "$batch: %s: Content-Type %q cannot be parsed", where, ct)
	}
	if te := p.Header.Get("Content-Transfer-Encoding"); te != "" && !strings.EqualFold(te, "binary") && mt == "application/http" {
		return "", nil, apperr.E(apperr.Invalid, "$batch: %s: Content-Transfer-Encoding %q; want binary", where, te)
	}
	return mt, params, nil
}

// multipartErr is the error of a multipart body that cannot be read at where.
func multipartErr(where string, err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return apperr.E(apperr.TooLarge, "request body is larger than the limit of %d bytes", mbe.Limit)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "EOF") {
		return apperr.E(apperr.Invalid, "$batch: %s: the body ends before the closing boundary (--boundary--)", where)
	}
	return apperr.E(apperr.Invalid, "$batch: %s: malformed multipart body: %s", where, strings.TrimPrefix(err.Error(), "multipart: "))
}

// fullURL matches a URL with a scheme.
var fullURL = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// readHTTPPart reads the HTTP request in an application/http part.
func readHTTPPart(p *multipart.Part, where string) (*batchItem, error) {
	br := bufio.NewReader(p)
	line, err := br.ReadString('\n')
	if err != nil && err != io.EOF {
		return nil, multipartErr(where, err)
	}
	f := strings.Fields(line)
	if len(f) != 3 || !strings.HasPrefix(f[2], "HTTP/") {
		return nil, apperr.E(apperr.Invalid, "$batch: %s: request line %q; want METHOD URL HTTP/1.1", where, strings.TrimSpace(line))
	}
	target := f[1]
	// http.ReadRequest takes only an absolute path or URL; a URL relative to the service root
	// ("Things", "$1/Datastreams") goes in behind a '/' and comes out as it was sent
	wire := target
	if !strings.HasPrefix(target, "/") && !fullURL.MatchString(target) {
		wire = "/" + target
	}
	// a part that ends with its headers lacks the blank line that ends them (the line break
	// before the next boundary belongs to the boundary): one more line break supplies it, and
	// adds only white space to a body read to the end of the part
	rd := bufio.NewReader(io.MultiReader(strings.NewReader(f[0]+" "+wire+" "+f[2]+"\r\n"), br, strings.NewReader("\r\n")))
	req, err := http.ReadRequest(rd)
	if err != nil {
		if strings.Contains(err.Error(), "EOF") {
			return nil, apperr.E(apperr.Invalid, "$batch: %s: the request's headers do not end with a blank line", where)
		}
		return nil, apperr.E(apperr.Invalid, "$batch: %s: malformed HTTP request: %s", where, err)
	}
	body, err := io.ReadAll(req.Body)
	if err == nil && req.Header.Get("Content-Length") == "" && len(req.TransferEncoding) == 0 {
		// no length given (as many clients send it): the body is the rest of the part
		body, err = io.ReadAll(rd)
	}
	if err != nil {
		return nil, multipartErr(where, err)
	}
	id := p.Header.Get("Content-Id")
	if id == "" {
		id = req.Header.Get("Content-Id")
	}
	req.Header.Del("Content-Id")
	return &batchItem{ID: id, Method: strings.ToUpper(req.Method), URL: target, Header: req.Header, Body: body, where: where}, nil
}
