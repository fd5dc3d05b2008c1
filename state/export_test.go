package state

// SetTestHookBeforeExec sets a function run between the read of the
// checkpoint and the transaction of a standalone Write (nil: none).
func SetTestHookBeforeExec(fn func()) { testHookBeforeExec = fn }
