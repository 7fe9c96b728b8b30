package pinrec

import (
	"bytes"
	"encoding/binary"
)

// exifOrientation returns the EXIF orientation (1..8) stored in an image file
// of format f, or 1 when there is none or it cannot be read. It looks in JPEG
// APP1 "Exif" segments, a TIFF file's first IFD, the PNG eXIf chunk and the
// WebP EXIF chunk. It only reads within data: any malformed length ends the
// search.
func exifOrientation(f imageFormat, data []byte) int {
	switch f {
	case formatJPEG:
		return jpegOrientation(data)
	case formatTIFF:
		return tiffOrientation(data)
	case formatPNG:
		return pngOrientation(data)
	case formatWebP:
		return webpOrientation(data)
	}
	return 1
}

var exifHeader = []byte("Exif\x00\x00")

func jpegOrientation(b []byte) int {
	i := 2 // after SOI
	for i+4 <= len(b) {
		if b[i] != 0xFF {
			return 1
		}
		marker := b[i+1]
		switch {
		case marker == 0xFF: // fill byte
			i++
			continue
		case marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7):
			i += 2
			continue
		case marker == 0xDA || marker == 0xD9: // start of scan, end of image
			return 1
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return 1
		}
		seg := b[i+4 : i+2+n]
		if marker == 0xE1 && bytes.HasPrefix(seg, exifHeader) {
			return tiffOrientation(seg[len(exifHeader):])
		}
		i += 2 + n
	}
	return 1
}

func pngOrientation(b []byte) int {
	i := 8 // after the signature
	for i+8 <= len(b) {
		n := int(binary.BigEndian.Uint32(b[i:]))
		typ := string(b[i+4 : i+8])
		if n < 0 || n > len(b)-i-12 {
			return 1
		}
		switch typ {
		case "eXIf":
			// Some writers keep the JPEG-style "Exif\0\0" prefix.
			return tiffOrientation(bytes.TrimPrefix(b[i+8:i+8+n], exifHeader))
		case "IEND":
			return 1
		}
		i += 12 + n // length, type, data, CRC
	}
	return 1
}

func webpOrientation(b []byte) int {
	i := 12 // after "RIFF" size "WEBP"
	for i+8 <= len(b) {
		n := int(binary.LittleEndian.Uint32(b[i+4:]))
		if n < 0 || n > len(b)-i-8 {
			return 1
		}
		if string(b[i:i+4]) == "EXIF" {
			seg := b[i+8 : i+8+n]
			// Some writers keep the JPEG-style "Exif\0\0" prefix.
			return tiffOrientation(bytes.TrimPrefix(seg, exifHeader))
		}
		i += 8 + n + n&1 // chunks are padded to an even size
	}
	return 1
}

// tiffOrientation reads tag 0x0112 (Orientation) from the first IFD of the
// TIFF structure in b (which starts with "II*\0" or "MM\0*").
func tiffOrientation(b []byte) int {
	if len(b) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(b[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 1
	}
	off := int64(bo.Uint32(b[4:]))
	if off < 8 || off+2 > int64(len(b)) {
		return 1
	}
	n := int64(bo.Uint16(b[off:]))
	for e := off + 2; e+12 <= int64(len(b)) && n > 0; e, n = e+12, n-1 {
		if bo.Uint16(b[e:]) != 0x0112 {
			continue
		}
		var v int
		switch bo.Uint16(b[e+2:]) {
		case 3: // SHORT
			v = int(bo.Uint16(b[e+8:]))
		case 4: // LONG, seen in some writers
			v = int(bo.Uint32(b[e+8:]))
		default:
			return 1
		}
		if v < 1 || v > 8 {
			return 1
		}
		return v
	}
	return 1
}
