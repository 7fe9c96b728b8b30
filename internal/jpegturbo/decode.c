//go:build cgo && !nolibjpeg

// libjpeg-turbo glue for package jpegturbo: decode a JPEG held in memory, reporting errors
// instead of exiting, as Pillow's JpegDecode.c drives the same library.
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "decode.h"

typedef struct {
	struct jpeg_error_mgr pub;
	jmp_buf jump;
	struct jpeg_progress_mgr progress;
	int max_scans;
	int code;
	char msg[JMSG_LENGTH_MAX];
} pr_error;

// pr_error_exit records the message and returns to the setjmp of the running call.
static void pr_error_exit(j_common_ptr c) {
	pr_error *e = (pr_error *)c->err;
	e->code = e->pub.msg_code;
	(*e->pub.format_message)(c, e->msg);
	longjmp(e->jump, 1);
}

// pr_emit_message ignores warnings and trace messages as Pillow does ("Corrupt JPEG data:
// N extraneous bytes before marker" still decodes), except the end of the data before the end
// of the image: Pillow reports a truncated file as an error, and so do we.
static void pr_emit_message(j_common_ptr c, int level) {
	if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF) {
		pr_error_exit(c);
	}
}

static void pr_output_message(j_common_ptr c) { (void)c; }

// pr_progress bounds the number of scans of a progressive JPEG: a crafted file can hold
// thousands of tiny scans, each of which costs a pass over the coefficients.
static void pr_progress(j_common_ptr c) {
	if (!c->is_decompressor) {
		return;
	}
	j_decompress_ptr d = (j_decompress_ptr)c;
	pr_error *e = (pr_error *)c->err;
	if (d->input_scan_number > e->max_scans) {
		e->code = PR_TOO_MANY_SCANS;
		snprintf(e->msg, sizeof e->msg, "more than %d scans", e->max_scans);
		longjmp(e->jump, 1);
	}
}

static void pr_init(struct jpeg_decompress_struct *d, pr_error *e,
                    int max_scans) {
	memset(d, 0, sizeof *d);
	memset(e, 0, sizeof *e);
	d->err = jpeg_std_error(&e->pub);
	e->pub.error_exit = pr_error_exit;
	e->pub.emit_message = pr_emit_message;
	e->pub.output_message = pr_output_message;
	e->max_scans = max_scans;
	e->progress.progress_monitor = pr_progress;
}

static void pr_fail(pr_error *e, pr_result *r) {
	r->code = e->code;
	memcpy(r->msg, e->msg, sizeof r->msg < sizeof e->msg ? sizeof r->msg : sizeof e->msg);
	r->msg[sizeof r->msg - 1] = 0;
}

int pr_header(const unsigned char *data, unsigned long n, pr_result *r) {
	struct jpeg_decompress_struct d;
	pr_error e;
	pr_init(&d, &e, 0);
	if (setjmp(e.jump)) {
		pr_fail(&e, r);
		jpeg_destroy_decompress(&d);
		return -1;
	}
	jpeg_create_decompress(&d);
	jpeg_mem_src(&d, data, n);
	jpeg_read_header(&d, TRUE);
	r->width = d.image_width;
	r->height = d.image_height;
	r->components = d.num_components;
	r->color_space = d.jpeg_color_space;
	r->progressive = d.progressive_mode;
	jpeg_destroy_decompress(&d);
	return 0;
}

int pr_decode(const unsigned char *data, unsigned long n, unsigned char *out, int stride,
              int width, int height, int out_kind, int max_scans, pr_result *r) {
	struct jpeg_decompress_struct d;
	pr_error e;
	pr_init(&d, &e, max_scans);
	if (setjmp(e.jump)) {
		pr_fail(&e, r);
		jpeg_destroy_decompress(&d);
		return -1;
	}
	jpeg_create_decompress(&d);
	d.progress = &e.progress;
	jpeg_mem_src(&d, data, n);
	jpeg_read_header(&d, TRUE);
	if ((int)d.image_width != width || (int)d.image_height != height) {
		e.code = PR_MISMATCH;
		snprintf(e.msg, sizeof e.msg, "header changed between reads");
		longjmp(e.jump, 1);
	}
	switch (out_kind) {
	case PR_OUT_GRAY:
		d.out_color_space = JCS_GRAYSCALE;
		break;
	case PR_OUT_CMYK:
		d.out_color_space = JCS_CMYK;
		break;
	default:
		d.out_color_space = JCS_EXT_RGBA;
	}
	// Pillow's settings, which are libjpeg's defaults: the accurate integer inverse DCT and
	// "fancy" (triangle filter) chroma upsampling, no scaling, no block smoothing changes.
	d.dct_method = JDCT_ISLOW;
	d.do_fancy_upsampling = TRUE;
	jpeg_start_decompress(&d);
	if ((int)d.output_width != width || (int)d.output_height != height) {
		e.code = PR_MISMATCH;
		snprintf(e.msg, sizeof e.msg, "output %ux%u, header %dx%d", d.output_width, d.output_height, width, height);
		longjmp(e.jump, 1);
	}
	while (d.output_scanline < d.output_height) {
		JSAMPROW rows[16];
		int k = 0;
		for (; k < 16 && d.output_scanline + k < d.output_height; k++) {
			rows[k] = out + (size_t)(d.output_scanline + k) * (size_t)stride;
		}
		if (jpeg_read_scanlines(&d, rows, k) == 0) {
			e.code = PR_MISMATCH;
			snprintf(e.msg, sizeof e.msg, "no progress at line %u", d.output_scanline);
			longjmp(e.jump, 1);
		}
	}
	r->saw_adobe = d.saw_Adobe_marker;
	r->adobe_transform = d.Adobe_transform;
	jpeg_destroy_decompress(&d);
	return 0;
}

const char *pr_version(void) {
#ifdef LIBJPEG_TURBO_VERSION
#define PR_STR2(x) #x
#define PR_STR(x) PR_STR2(x)
	return PR_STR(LIBJPEG_TURBO_VERSION);
#else
	return "unknown";
#endif
}
