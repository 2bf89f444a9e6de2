package runtime

import "errors"

// ErrClosed is returned (wrapped) by a Run of a Program that has been
// closed, or that Close overtook before its work started.
var ErrClosed = errors.New("the model is closed")
