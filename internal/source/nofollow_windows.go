package source

// noFollow is 0 on Windows, whose os.OpenFile has no O_NOFOLLOW: a root
// filesystem entry is opened only when Lstat found a regular file, so only
// a file replaced by a link between the Lstat and the open is followed.
const noFollow = 0
