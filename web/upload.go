package web

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"time"

	"pinrec"
)

// upload is a query image sent with a multipart form, written to a temporary file.
type upload struct {
	name  string     // the file name the client gave, or "upload"
	file  string     // the temporary file holding the encoded image; remove deletes it
	size  int64      // its size in bytes
	form  url.Values // the URL's query values, then the form's other fields
	state state
}

// remove deletes the upload's temporary file.
func (u *upload) remove() {
	if u != nil && u.file != "" {
		os.Remove(u.file)
		u.file = ""
	}
}

// largeUpload is the size past which an upload's memory is collected at once.
const largeUpload = 8 << 20

// maxField bounds the size of a form field other than the image.
const maxField = 4 << 10

// uploadReadTimeout bounds how long reading an upload's body may take: a client that sends
// one byte at a time is cut off, and its slot freed. A variable for the tests.
var uploadReadTimeout = 60 * time.Second

// readUpload reads the multipart body of r: the image from the field "image", streamed to a
// temporary file (never held in memory), and the other fields (k, crop, cat, dedup, rank)
// after the URL's. The caller holds a query slot (Server.slot) and removes the upload.
func (s *Server) readUpload(w http.ResponseWriter, r *http.Request, defaultK int) (u *upload, err error) {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.maxUpload)
	// Not every ResponseWriter has a connection (httptest's): then there is nothing to bound.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(uploadReadTimeout))
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "multipart/form-data" {
		return nil, fail(http.StatusBadRequest, "want a multipart/form-data body with the image in the field \"image\"")
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, fail(http.StatusBadRequest, "bad multipart body: %v", err)
	}
	u = &upload{form: r.URL.Query()}
	own := u // a failing return sets u to nil before the deferred call
	defer func() {
		if err != nil {
			own.remove()
		}
	}()
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, bodyError(err)
		}
		name := part.FormName()
		switch {
		case name == "image" && u.file == "":
			u.name = part.FileName()
			f, err := os.CreateTemp(s.cfg.tempDir, "pinrec-upload-*")
			if err != nil {
				return nil, err
			}
			u.file = f.Name()
			u.size, err = io.Copy(f, part)
			if cerr := f.Close(); err == nil && cerr != nil {
				return nil, cerr
			}
			if err != nil {
				var pe *fs.PathError
				if errors.As(err, &pe) {
					// The server's disk (a full one), not the request: a server error naming the file.
					return nil, fmt.Errorf("saving the upload: %w", err)
				}
				return nil, bodyError(err)
			}
		case name == "k" || name == "crop" || name == "cat" || name == "dedup" || name == "rank":
			b, err := io.ReadAll(io.LimitReader(part, maxField+1))
			if err != nil {
				return nil, bodyError(err)
			}
			if len(b) > maxField {
				return nil, fail(http.StatusBadRequest, "form field %q is too long", name)
			}
			if v := string(b); v != "" || name == "cat" {
				if name != "cat" {
					u.form.Del(name)
				}
				u.form.Add(name, v)
			}
		default:
			// Other fields are read and ignored.
			if _, err := io.Copy(io.Discard, part); err != nil {
				return nil, bodyError(err)
			}
		}
	}
	if u.size == 0 {
		return nil, fail(http.StatusBadRequest, "no image: send the image file in the multipart field \"image\"")
	}
	if u.name == "" {
		u.name = "upload"
	}
	if u.state, err = s.parseState(u.form, defaultK); err != nil {
		return nil, err
	}
	if u.state.Rank == "hybrid" {
		return nil, fail(http.StatusBadRequest, "rank=hybrid: the hybrid ranking applies to indexed pins, not to uploaded images")
	}
	return u, nil
}

// bodyError is the error of a failed body read: 413 past the upload limit.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fail(http.StatusRequestEntityTooLarge, "upload larger than the limit of %d bytes", mbe.Limit)
	}
	return fail(http.StatusBadRequest, "reading the upload: %v", err)
}

// embedUpload decodes and embeds an uploaded image (or its crop); the caller holds a slot.
func (s *Server) embedUpload(ctx context.Context, u *upload) ([]float32, image.Image, error) {
	var img image.Image
	vec, err := s.embedQuery(ctx, u.state.Crop, func() (image.Image, error) {
		// DecodeFile reads the file in one allocation of its size (Decode's io.ReadAll would
		// grow a buffer to up to twice that); its error names the temporary file, which the
		// answer leaves out.
		var err error
		img, err = pinrec.DecodeFile(u.file, pinrec.WithMaxPixels(s.cfg.maxPixels))
		if err != nil {
			if inner := errors.Unwrap(err); inner != nil {
				err = inner
			}
			return nil, fail(http.StatusBadRequest, "%s is not a usable image: %v", u.name, err)
		}
		return img, nil
	})
	return vec, img, err
}

// searchVector answers a query vector in state st: pins, with the page's filters.
func (s *Server) searchVector(ctx context.Context, vec []float32, st state) ([]hit, int, error) {
	opts := s.options(st, "")
	return s.collapsed(ctx, st, visual(func(k int) ([]pinrec.Result, error) { return pinrec.SearchPins(ctx, s.store, vec, k, opts...) }))
}

// takeUpload holds a query slot while it reads the upload (the slot first, then the body),
// embeds it and saves it as a search: what both upload endpoints do first.
func (s *Server) takeUpload(w http.ResponseWriter, r *http.Request, defaultK int) (*savedSearch, state, error) {
	release, err := s.slot(r.Context())
	if err != nil {
		return nil, state{}, err
	}
	defer release()
	u, err := s.readUpload(w, r, defaultK)
	if err != nil {
		return nil, state{}, err
	}
	defer u.remove()
	if u.size > largeUpload {
		// The decoder held the whole file: collect it now, before the next upload takes this
		// slot, so that memory stays near the slots' worth of uploads instead of growing with
		// the garbage of each one until the collector's next cycle.
		defer runtime.GC()
	}
	vec, img, err := s.embedUpload(r.Context(), u)
	if err != nil {
		return nil, state{}, err
	}
	b := img.Bounds()
	sv := &savedSearch{name: u.name, vec: vec, crop: u.state.Crop, preview: preview(img, u.state.Crop), width: b.Dx(), height: b.Dy()}
	s.saved.put(sv)
	return sv, u.state, nil
}
