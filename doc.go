// Package pinrec is content-based image recommendation: Pinterest's "More like this".
package pinrec
