package migrations

// ApplyFS is Apply with the migrations of an fs.FS, for failing ones.
var ApplyFS = apply
