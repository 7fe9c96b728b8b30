package dupes

import "fmt"

func errBad(format string, args ...any) error {
	return fmt.Errorf("dupes: "+format+": %w", append(args, ErrBadOption)...)
}
