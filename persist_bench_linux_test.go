package pinrec

import (
	"os"

	"golang.org/x/sys/unix"
)

func init() {
	dropPageCache = func(path string) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	}
}
