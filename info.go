package pinrec

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// ReadInfo returns the index-level metadata ([Index.SetInfo]) of the index file at path, of
// any kind, reading only the file's header and metadata section (verified against their
// checksum), not its vectors or extension: a program can choose what goes with an index (the
// model that embeds its queries, say) while the index itself loads. Errors name the file and
// wrap the sentinels [Load] documents.
func ReadInfo(path string) (map[string]string, error) {
	info, err := readInfo(path)
	if err != nil {
		return nil, fmt.Errorf("read info %s: %w", path, err)
	}
	return info, nil
}

func readInfo(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, badFormat("not a regular file (%v)", fi.Mode().Type())
	}
	var hb [headerSize]byte
	n, err := io.ReadFull(f, hb[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, err
	}
	h, err := parseHeader(hb[:n], fi.Size())
	if err != nil {
		return nil, err
	}
	buf := make([]byte, h.vecOff)
	copy(buf, hb[:])
	if _, err := io.ReadFull(f, buf[headerSize:]); err != nil {
		return nil, eofAsTruncated(err, "metadata")
	}
	_, m, err := decodeHead(buf, h)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(m.info))
	for k, v := range m.info { // the decoded strings alias buf, which holds every ID
		out[strings.Clone(k)] = strings.Clone(v)
	}
	return out, nil
}
