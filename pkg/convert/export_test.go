package convert

// withForceBlock makes the target behave like a block device, for tests on regular files.
func withForceBlock() Option { return func(o *options) { o.forceBlock = true } }

// withChunkSize sets the unit of parallel work, to exercise chunk boundaries with small inputs.
func withChunkSize(n int64) Option { return func(o *options) { o.chunkSize = n } }
