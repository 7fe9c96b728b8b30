// Declarations shared by decode.c and the cgo file of package jpegturbo.
#ifndef PINREC_JPEGTURBO_DECODE_H
#define PINREC_JPEGTURBO_DECODE_H

enum { PR_OUT_RGBA = 0, PR_OUT_GRAY = 1, PR_OUT_CMYK = 2 };
// Codes of our own, beyond libjpeg's message codes.
enum { PR_TOO_MANY_SCANS = 100000, PR_MISMATCH = 100001 };

typedef struct {
	int width, height, components, color_space, progressive;
	int saw_adobe, adobe_transform;
	int code;
	char msg[200];
} pr_result;

int pr_header(const unsigned char *data, unsigned long n, pr_result *r);
int pr_decode(const unsigned char *data, unsigned long n, unsigned char *out, int stride,
              int width, int height, int out_kind, int max_scans, pr_result *r);
const char *pr_version(void);

#endif
